EXTRA_DIST += \
	README.md \
	docs/cni.md \
	docs/ipv6.md \
	docs/kubernetes-client.md \
	docs/pipeline.md
