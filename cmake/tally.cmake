# Shared compile settings: strict warnings for project code, optional sanitizers.

set(TALLY_WARNINGS
  -Wall -Wextra -Werror -Wshadow -Wconversion -Wsign-conversion
  -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wvla
  -Wformat=2 -Wundef)

if(TALLY_SANITIZE)
  # Applied globally so libraries and tests are instrumented alike;
  # no-recover turns every UBSan report into a test failure.
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

if(TALLY_FUZZ)
  # Coverage feedback for libFuzzer in every library the targets link.
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# tally_strict(TARGET): the project's warning set on a target's own sources.
function(tally_strict target)
  target_compile_options(${target} PRIVATE ${TALLY_WARNINGS})
  target_compile_definitions(${target} PRIVATE _POSIX_C_SOURCE=200809L)
endfunction()
