# The CNI plugin.  Runtimes look for it by its "type", so the binary is
# named "livebind"; deploy/ copies it to the node's CNI bin directory
# (usually /opt/cni/bin).
cnibindir = $(libexecdir)/cni
cnibin_PROGRAMS = cni-plugin/livebind
cni_plugin_livebind_SOURCES = cni-plugin/main.c
cni_plugin_livebind_LDADD = $(LIVEBIND_LIBS)

# Runs the plugin by hand, as a runtime would (see docs/cni.md).
EXTRA_DIST += docs/cni.md
