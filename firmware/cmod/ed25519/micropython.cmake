# SPDX-License-Identifier: MIT
# The ed25519 module for cmake-based ports (ESP32, RP2):
#   make USER_C_MODULES=<repo>/firmware/cmod/ed25519/micropython.cmake
add_library(usermod_ed25519 INTERFACE)

target_sources(usermod_ed25519 INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}/moded25519.c
    ${CMAKE_CURRENT_LIST_DIR}/sha512.c
    ${CMAKE_CURRENT_LIST_DIR}/field.c
    ${CMAKE_CURRENT_LIST_DIR}/scalar.c
    ${CMAKE_CURRENT_LIST_DIR}/point.c
    ${CMAKE_CURRENT_LIST_DIR}/verify.c
    ${CMAKE_CURRENT_LIST_DIR}/tables.c
    ${CMAKE_CURRENT_LIST_DIR}/x25519.c
)

target_include_directories(usermod_ed25519 INTERFACE
    ${CMAKE_CURRENT_LIST_DIR}
)

target_link_libraries(usermod INTERFACE usermod_ed25519)
