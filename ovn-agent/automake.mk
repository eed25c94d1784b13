sbin_PROGRAMS += ovn-agent/livebind-agent
ovn_agent_livebind_agent_SOURCES = ovn-agent/main.c
ovn_agent_livebind_agent_LDADD = $(LIVEBIND_LIBS)
