// SPDX-License-Identifier: MIT
// MicroPython binding of the verifier, `ed25519.verify()` and `ed25519.sha512`,
// and of `ed25519.x25519()`.
// Built into firmware (MP_REGISTER_MODULE below) or, through
// natmod/ed25519_natmod.c, as a native .mpy module for stock firmware.
#include "verify.h"
#include "sha512.h"
#include "x25519.h"

#if !MICROPY_ENABLE_DYNRUNTIME
#include "py/runtime.h"
#endif

// verify(public_key, signature, message) -> bool
// A bad signature is an expected outcome and returns False; only arguments of
// the wrong length or type raise.
static mp_obj_t ed25519_verify_fn(mp_obj_t public_key_in, mp_obj_t signature_in, mp_obj_t message_in) {
    mp_buffer_info_t public_key, signature, message;
    mp_get_buffer_raise(public_key_in, &public_key, MP_BUFFER_READ);
    mp_get_buffer_raise(signature_in, &signature, MP_BUFFER_READ);
    mp_get_buffer_raise(message_in, &message, MP_BUFFER_READ);
    if (public_key.len != 32) {
        mp_raise_ValueError(MP_ERROR_TEXT("public key must be 32 bytes"));
    }
    if (signature.len != 64) {
        mp_raise_ValueError(MP_ERROR_TEXT("signature must be 64 bytes"));
    }
    int valid = ed25519_verify(signature.buf, public_key.buf, message.buf, message.len);
    return mp_obj_new_bool(valid);
}
static MP_DEFINE_CONST_FUN_OBJ_3(ed25519_verify_obj, ed25519_verify_fn);

// x25519(scalar, u) -> bytes: RFC 7748's function. A small-order u gives 32
// zero bytes (see x25519.h); only arguments of the wrong length or type raise.
static mp_obj_t ed25519_x25519_fn(mp_obj_t scalar_in, mp_obj_t u_in) {
    mp_buffer_info_t scalar, u;
    mp_get_buffer_raise(scalar_in, &scalar, MP_BUFFER_READ);
    mp_get_buffer_raise(u_in, &u, MP_BUFFER_READ);
    if (scalar.len != 32) {
        mp_raise_ValueError(MP_ERROR_TEXT("scalar must be 32 bytes"));
    }
    if (u.len != 32) {
        mp_raise_ValueError(MP_ERROR_TEXT("u must be 32 bytes"));
    }
    uint8_t out[32];
    x25519(out, scalar.buf, u.buf);
    mp_obj_t result = mp_obj_new_bytes(out, sizeof(out));
    x25519_wipe(out, sizeof(out));
    return result;
}
static MP_DEFINE_CONST_FUN_OBJ_2(ed25519_x25519_obj, ed25519_x25519_fn);

// sha512([data]): hashlib-style object. digest() may be called more than once
// and update() still works after it, as in CPython.
typedef struct {
    mp_obj_base_t base;
    sha512_ctx ctx;
} ed25519_sha512_obj_t;

#if MICROPY_ENABLE_DYNRUNTIME
// Native modules cannot hold constant type objects: the wrapper fills this one in.
extern mp_obj_full_type_t ed25519_sha512_type;
#define SHA512_TYPE ((const mp_obj_type_t *)&ed25519_sha512_type)
#else
extern const mp_obj_type_t ed25519_sha512_type;
#define SHA512_TYPE (&ed25519_sha512_type)
#endif

static mp_obj_t ed25519_sha512_update(mp_obj_t self_in, mp_obj_t data_in) {
    ed25519_sha512_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_buffer_info_t data;
    mp_get_buffer_raise(data_in, &data, MP_BUFFER_READ);
    sha512_update(&self->ctx, data.buf, data.len);
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(ed25519_sha512_update_obj, ed25519_sha512_update);

static mp_obj_t ed25519_sha512_digest(mp_obj_t self_in) {
    ed25519_sha512_obj_t *self = MP_OBJ_TO_PTR(self_in);
    uint8_t digest[SHA512_DIGEST_SIZE];
    sha512_final(&self->ctx, digest);
    return mp_obj_new_bytes(digest, sizeof(digest));
}
static MP_DEFINE_CONST_FUN_OBJ_1(ed25519_sha512_digest_obj, ed25519_sha512_digest);

static mp_obj_t ed25519_sha512_make_new(const mp_obj_type_t *type, size_t n_args, size_t n_kw, const mp_obj_t *args) {
    mp_arg_check_num(n_args, n_kw, 0, 1, false);
    ed25519_sha512_obj_t *self = mp_obj_malloc(ed25519_sha512_obj_t, SHA512_TYPE);
    sha512_init(&self->ctx);
    if (n_args == 1) {
        ed25519_sha512_update(MP_OBJ_FROM_PTR(self), args[0]);
    }
    return MP_OBJ_FROM_PTR(self);
}

#if !MICROPY_ENABLE_DYNRUNTIME

static const mp_rom_map_elem_t ed25519_sha512_locals_table[] = {
    { MP_ROM_QSTR(MP_QSTR_update), MP_ROM_PTR(&ed25519_sha512_update_obj) },
    { MP_ROM_QSTR(MP_QSTR_digest), MP_ROM_PTR(&ed25519_sha512_digest_obj) },
};
static MP_DEFINE_CONST_DICT(ed25519_sha512_locals, ed25519_sha512_locals_table);

MP_DEFINE_CONST_OBJ_TYPE(
    ed25519_sha512_type,
    MP_QSTR_sha512,
    MP_TYPE_FLAG_NONE,
    make_new, ed25519_sha512_make_new,
    locals_dict, &ed25519_sha512_locals
    );

static const mp_rom_map_elem_t ed25519_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_ed25519) },
    { MP_ROM_QSTR(MP_QSTR_verify), MP_ROM_PTR(&ed25519_verify_obj) },
    { MP_ROM_QSTR(MP_QSTR_sha512), MP_ROM_PTR(&ed25519_sha512_type) },
    { MP_ROM_QSTR(MP_QSTR_x25519), MP_ROM_PTR(&ed25519_x25519_obj) },
};
static MP_DEFINE_CONST_DICT(ed25519_module_globals, ed25519_module_globals_table);

const mp_obj_module_t ed25519_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&ed25519_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_ed25519, ed25519_user_cmodule);

#endif
