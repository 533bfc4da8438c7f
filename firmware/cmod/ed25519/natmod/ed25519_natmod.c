// SPDX-License-Identifier: MIT
// The ed25519 module as a native .mpy, for stock firmware: the same binding as
// the built-in module, with its type object filled in at import time.
#include "py/dynruntime.h"

// Native modules link no C library; the compiler may still call these.
void *memcpy(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}
void *memmove(void *dst, const void *src, size_t n) {
    return mp_fun_table.memmove_(dst, src, n);
}
void *memset(void *s, int c, size_t n) {
    return mp_fun_table.memset_(s, c, n);
}

// Not static: mpy_ld cannot relocate static zero-initialised data.
mp_obj_full_type_t ed25519_sha512_type;
mp_map_elem_t sha512_locals_table[2];
static MP_DEFINE_CONST_DICT(sha512_locals, sha512_locals_table);

#include "../moded25519.c"

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    ed25519_sha512_type.base.type = (void *)&mp_type_type;
    ed25519_sha512_type.name = MP_QSTR_sha512;
    MP_OBJ_TYPE_SET_SLOT(&ed25519_sha512_type, make_new, ed25519_sha512_make_new, 0);
    sha512_locals_table[0] = (mp_map_elem_t){ MP_OBJ_NEW_QSTR(MP_QSTR_update), MP_OBJ_FROM_PTR(&ed25519_sha512_update_obj) };
    sha512_locals_table[1] = (mp_map_elem_t){ MP_OBJ_NEW_QSTR(MP_QSTR_digest), MP_OBJ_FROM_PTR(&ed25519_sha512_digest_obj) };
    MP_OBJ_TYPE_SET_SLOT(&ed25519_sha512_type, locals_dict, (void *)&sha512_locals, 1);

    mp_store_global(MP_QSTR_verify, MP_OBJ_FROM_PTR(&ed25519_verify_obj));
    mp_store_global(MP_QSTR_sha512, MP_OBJ_FROM_PTR(&ed25519_sha512_type));
    mp_store_global(MP_QSTR_x25519, MP_OBJ_FROM_PTR(&ed25519_x25519_obj));

    MP_DYNRUNTIME_INIT_EXIT
}
