# Runs at install time (install(SCRIPT) in packaging.cmake): writes the
# systemd units and /etc/tally for the prefix being installed to. The units
# in packaging/ are written for the .deb (/usr/bin/tally, /etc/tally), and
# are copied unchanged with prefix /usr; another prefix gets its own paths.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(etc "/etc")
else()
  set(etc "${CMAKE_INSTALL_PREFIX}/etc")
endif()
set(units "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")

foreach(unit tally-meter.service tally-serve.service)
  file(READ "${TALLY_PACKAGING_SRC}/${unit}" text)
  string(REPLACE "/usr/bin/tally" "${CMAKE_INSTALL_PREFIX}/bin/tally" text
                 "${text}")
  string(REPLACE "/usr/share/" "${CMAKE_INSTALL_PREFIX}/share/" text
                 "${text}")
  string(REPLACE "/etc/tally/" "${etc}/tally/" text "${text}")
  file(WRITE "${TALLY_PACKAGING_TMP}/${unit}" "${text}")
  file(INSTALL "${TALLY_PACKAGING_TMP}/${unit}" DESTINATION "${units}"
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
endforeach()

# An edited configuration is never overwritten by a later install (the
# .deb marks them conffiles: dpkg asks). file(INSTALL) adds DESTDIR itself.
set(conf "${etc}/tally")
foreach(f tally.yaml tally.env)
  if(f STREQUAL "tally.env")
    set(mode OWNER_READ OWNER_WRITE)
  else()
    set(mode OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
  if(EXISTS "$ENV{DESTDIR}${conf}/${f}")
    message(STATUS "Kept: $ENV{DESTDIR}${conf}/${f}")
  else()
    file(INSTALL "${TALLY_PACKAGING_SRC}/${f}" DESTINATION "${conf}"
         PERMISSIONS ${mode})
  endif()
endforeach()
