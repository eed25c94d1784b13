# Kubernetes manifests (see deploy/README.md) and their tests, which need
# only python3 and PyYAML.
EXTRA_DIST += \
	deploy/README.md \
	deploy/crds.yaml \
	deploy/daemonset.yaml \
	deploy/default-switch.yaml \
	deploy/rbac.yaml \
	deploy/sample-vm.yaml
TESTS += tests/deploy/test_manifests.py
EXTRA_DIST += tests/deploy/test_manifests.py

# The same manifests through a real API server (kubectl apply
# --dry-run=server): needs a kubeconfig for a scratch control plane, such
# as tests/system/control-plane.sh's, and skips (77) without one.
EXTRA_DIST += tests/deploy/test-server-dry-run.sh
