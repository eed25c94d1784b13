EXTRA_DIST += \
	README.md \
	docs/cni.md \
	docs/kubernetes-client.md \
	docs/pipeline.md
