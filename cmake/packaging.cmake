# Install layout and the Debian package: what `tally` needs at run time.
#
#   cmake --install build [--prefix /usr/local]
#   cpack --config build/CPackConfig.cmake -B out     # out/tally_V_ARCH.deb
#
# The SQL migrations are compiled into the binary (schemas/sql/embed.cmake),
# so the binary alone runs every command but `tally demo`, which reads the
# source tree. The PDF renderer asks fontconfig for DejaVu Sans: a Depends.
include(GNUInstallDirs)

install(TARGETS tally RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES pricing-rules/demo/catalog.yaml packaging/tally.yaml
        packaging/tally.env
        DESTINATION ${CMAKE_INSTALL_DATADIR}/tally/examples)
install(FILES README.md docs/architecture.md docs/formats.md
        docs/operations.md docs/pricing-rules.md docs/benchmarks.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY docs/img DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The systemd units and /etc/tally are laid out at install time, when the
# prefix is known (cpack installs with prefix /usr): see the script.
install(CODE "set(TALLY_PACKAGING_SRC \"${CMAKE_CURRENT_SOURCE_DIR}/packaging\")
set(TALLY_PACKAGING_TMP \"${CMAKE_CURRENT_BINARY_DIR}/packaging\")")
install(SCRIPT cmake/packaging-install.cmake)

# cpack, like `cmake --install`, packs what was built: it does not first
# run make over every target (about 6 s of CPU when all is up to date, paid
# by packaging.deb in every test run). Build, then pack.
if(NOT DEFINED CMAKE_SKIP_INSTALL_ALL_DEPENDENCY)
  set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
endif()

# The package. Files under /etc are conffiles: an upgrade keeps edits.
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/packaging/conffiles
     "/etc/tally/tally.yaml\n/etc/tally/tally.env\n")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME tally)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR tally)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "usage metering and billing engine for AI inference")
set(CPACK_PACKAGE_DESCRIPTION
    "tally takes usage events from Kafka, stores them exactly once in\n\
PostgreSQL, prices them from YAML catalogs and closes each month into one\n\
invoice per customer (JSON, PDF, CSV). One binary, `tally`, with the\n\
ingest service (tally meter, a systemd unit), offline rating, invoicing\n\
and pricing-rule tools.")
# Installed with prefix /usr into a staging DESTDIR, so that /etc/tally
# (absolute) lands in the package too.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(TALLY_DEB_MAINTAINER "tally maintainers <maintainers@tally.invalid>"
    CACHE STRING "Maintainer field of the .deb")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${TALLY_DEB_MAINTAINER})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps (dpkg-dev) adds the libraries; the font is not linked.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS fonts-dejavu-core)
# The units' DynamicUser has a name (for PostgreSQL's peer authentication)
# only through nss-systemd.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS libnss-systemd)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql, kcat")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_CURRENT_BINARY_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
