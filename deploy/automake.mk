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
