# The Debian package (CPack DEB): `cpack -G DEB` in a build tree configured
# with -DCMAKE_INSTALL_PREFIX=/usr gives dbxfs_VERSION_ARCH.deb with dbxfs,
# dbxctl, dbxd, the systemd units, /etc/dbxd/dbxd.conf and the man pages.
# Its maintainer scripts (tools/deb/) add the dbxd system user and enable
# dbxd.service where systemd runs.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dbxfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "dbxfs")
set(CPACK_PACKAGE_CONTACT "dbxfs maintainers <dbxfs@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "self-hosted file sync: FUSE mount (dbxfs), server (dbxd) and dbxctl")
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "dbxfs mounts a dbxd account as a local directory: local-first, with\n"
    "write-back uploads, background sync between devices, sharing and\n"
    "signed links. dbxd is the server, with its own embedded store.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# mount.fuse3 and fusermount3; adduser-free user creation needs only passwd
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3, passwd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_LIST_DIR}/../deb/postinst
    ${CMAKE_CURRENT_LIST_DIR}/../deb/prerm
    ${CMAKE_CURRENT_LIST_DIR}/../deb/postrm
    ${CMAKE_CURRENT_LIST_DIR}/../deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
