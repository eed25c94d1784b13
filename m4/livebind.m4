# LB_CHECK_OVS
# ------------
# Finds libopenvswitch.  Like OVN's configure: --with-ovs-source=DIR names an
# OVS source tree and --with-ovs-build=DIR its build tree (default: the
# source tree).  Without them, pkg-config libopenvswitch, for distributions
# that ship it.  Otherwise stop and say how to get it.
AC_DEFUN([LB_CHECK_OVS], [
  AC_ARG_WITH([ovs-source],
    [AS_HELP_STRING([--with-ovs-source=DIR],
                    [Open vSwitch source tree to build against])],
    [], [with_ovs_source=no])
  AC_ARG_WITH([ovs-build],
    [AS_HELP_STRING([--with-ovs-build=DIR],
                    [Open vSwitch build tree (default: the source tree)])],
    [], [with_ovs_build=no])

  OVS_SRCDIR=
  OVS_BUILDDIR=
  AS_IF([test "$with_ovs_source" != no], [
    OVS_SRCDIR=`cd "$with_ovs_source" 2>/dev/null && pwd`
    AS_IF([test -z "$OVS_SRCDIR" || test ! -f "$OVS_SRCDIR/include/openvswitch/rconn.h"],
      [AC_MSG_ERROR([$with_ovs_source is not an Open vSwitch source tree])])
    AS_IF([test "$with_ovs_build" != no],
      [OVS_BUILDDIR=`cd "$with_ovs_build" 2>/dev/null && pwd`],
      [OVS_BUILDDIR=$OVS_SRCDIR])
    AS_IF([test ! -f "$OVS_BUILDDIR/lib/libopenvswitch.la"],
      [AC_MSG_ERROR([$OVS_BUILDDIR holds no lib/libopenvswitch.la; build OVS first (utilities/build-ovs.sh does)])])
    AS_IF([test ! -f "$OVS_BUILDDIR/lib/vswitch-idl.h"],
      [AC_MSG_ERROR([$OVS_BUILDDIR lacks the generated lib/vswitch-idl.h])])
    OVS_CFLAGS="-I$OVS_SRCDIR/include -I$OVS_BUILDDIR/include -I$OVS_SRCDIR/lib -I$OVS_BUILDDIR/lib -I$OVS_BUILDDIR -I$OVS_SRCDIR"
    OVS_LIBS="$OVS_BUILDDIR/lib/libopenvswitch.la"
    AC_MSG_NOTICE([building against Open vSwitch in $OVS_SRCDIR (build $OVS_BUILDDIR)])
  ], [
    PKG_CHECK_MODULES([OVS], [libopenvswitch >= 2.17], [], [
      AC_MSG_ERROR([libopenvswitch not found.
  Either install your distribution's libopenvswitch development package, or
  build it from the Open vSwitch sources and point configure at the tree:
    apt-get install openvswitch-source   # Debian, Ubuntu
    utilities/build-ovs.sh               # prints CACHE_DIR
    ./configure --with-ovs-source=CACHE_DIR/src])])
  ])
  OVS_SCHEMA=
  for f in "$OVS_SRCDIR/vswitchd/vswitch.ovsschema" \
           /usr/share/openvswitch/vswitch.ovsschema; do
    AS_IF([test -f "$f"], [OVS_SCHEMA=$f; break])
  done
  AC_SUBST([OVS_SRCDIR])
  AC_SUBST([OVS_BUILDDIR])
  AC_SUBST([OVS_CFLAGS])
  AC_SUBST([OVS_LIBS])
  AC_SUBST([OVS_SCHEMA])
])
