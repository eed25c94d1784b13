# LB_CHECK_SYSTEMD
# ----------------
# Where `make install` puts the agent's systemd unit: --with-systemdsystemunitdir
# if given ("no" installs none), else systemd's own choice (pkg-config
# systemd), else /lib/systemd/system.
AC_DEFUN([LB_CHECK_SYSTEMD], [
  AC_ARG_WITH([systemdsystemunitdir],
    [AS_HELP_STRING([--with-systemdsystemunitdir=DIR],
                    [install the systemd unit there ("no": none)])],
    [], [with_systemdsystemunitdir=auto])
  AS_IF([test "$with_systemdsystemunitdir" = auto],
    [PKG_CHECK_VAR([systemdsystemunitdir], [systemd],
                   [systemdsystemunitdir], [],
                   [systemdsystemunitdir=/lib/systemd/system])],
    [systemdsystemunitdir=$with_systemdsystemunitdir])
  AS_IF([test -z "$systemdsystemunitdir"],
    [systemdsystemunitdir=/lib/systemd/system])
  AM_CONDITIONAL([INSTALL_SYSTEMD_UNIT], [test "$systemdsystemunitdir" != no])
  AC_SUBST([systemdsystemunitdir])
])
