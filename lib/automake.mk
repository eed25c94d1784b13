noinst_LTLIBRARIES += lib/liblivebind.la
lib_liblivebind_la_SOURCES = \
	lib/cookie.h \
	lib/flow-table.c \
	lib/flow-table.h \
	lib/model.c \
	lib/model.h \
	lib/oftable.h
