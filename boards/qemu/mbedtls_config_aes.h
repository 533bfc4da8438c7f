// SPDX-License-Identifier: MIT
// mbedtls configuration of our qemu boards: AES with CBC, all that
// MicroPython's cryptolib (extmod/modcryptolib.c) calls. Selected with
// MBEDTLS_CONFIG_FILE (board.mk) instead of mbedtls's default, which would
// want the whole library. The AES options are the ones the stock rp2 and
// esp32 firmware gets from extmod/mbedtls/mbedtls_config_common.h, so the
// cipher is built as on those boards. Names as in mbedtls 3.x.
#ifndef MPOTA_MBEDTLS_CONFIG_AES_H
#define MPOTA_MBEDTLS_CONFIG_AES_H

#define MBEDTLS_AES_C
#define MBEDTLS_CIPHER_MODE_CBC
// Constant tables in flash; without this aes.c builds them in RAM.
#define MBEDTLS_AES_ROM_TABLES
#define MBEDTLS_DEPRECATED_REMOVED

#endif // MPOTA_MBEDTLS_CONFIG_AES_H
