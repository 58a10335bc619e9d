/* Arena, buffers and allocation-failure paths. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/arena.h"
#include "core/str.h"

Test(arena, allocations_are_aligned_and_distinct)
{
        struct tl_arena a;
        void *p, *q;

        tl_arena_init(&a, 64, 0);
        cr_assert_eq(tl_arena_alloc(&a, 3, &p, NULL), TL_OK);
        cr_assert_eq(tl_arena_alloc(&a, 100, &q, NULL), TL_OK);
        cr_assert_eq((uintptr_t)p % _Alignof(max_align_t), 0);
        cr_assert_eq((uintptr_t)q % _Alignof(max_align_t), 0);
        cr_assert_neq(p, q);
        memset(q, 0xAB, 100);
        tl_arena_release(&a);
}

Test(arena, reset_reuses_memory_without_new_chunks)
{
        struct tl_arena a;
        void *p;

        tl_arena_init(&a, 4096, 0);
        for (int round = 0; round < 3; round++) {
                for (int i = 0; i < 100; i++)
                        cr_assert_eq(tl_arena_alloc(&a, 32, &p, NULL), TL_OK);
                tl_arena_reset(&a);
                cr_assert_eq(a.used_bytes, 0);
        }
        cr_assert_eq(a.held_bytes, 4096, "reset keeps exactly one chunk");
        tl_arena_release(&a);
}

Test(arena, cap_bounds_memory_with_limit_error)
{
        struct tl_arena a;
        struct tl_error err;
        void *p = NULL;
        char *s = NULL;

        tl_arena_init(&a, 256, 1024);
        cr_assert_eq(tl_arena_alloc(&a, 1000, &p, NULL), TL_OK);
        cr_assert_eq(tl_arena_alloc(&a, 100, &p, &err), TL_ELIMIT);
        cr_assert(strstr(err.msg, "cap of 1024"));
        cr_assert_eq(tl_arena_alloc(&a, SIZE_MAX, &p, &err), TL_ELIMIT);
        tl_arena_reset(&a);
        cr_assert_eq(tl_arena_strndup(&a, "hello world", 5, &s, NULL), TL_OK);
        cr_assert_str_eq(s, "hello");
        tl_arena_release(&a);
}

Test(arena, every_failed_allocation_unwinds_cleanly)
{
        /* Fail the 1st, 2nd, ... allocation until a run needs no failure;
           each run must report ENOMEM and leave nothing leaked (ASan). */
        for (long n = 0;; n++) {
                struct tl_arena a;
                tl_status rc = TL_OK;
                void *p;

                tl_arena_init(&a, 128, 0);
                tl_alloc_fail_after(n);
                for (int i = 0; i < 50 && !rc; i++)
                        rc = tl_arena_alloc(&a, (size_t)(40 + i * 7), &p, NULL);
                long attempts = tl_alloc_count();
                tl_alloc_fail_reset();
                tl_arena_release(&a);
                if (!rc) {
                        cr_assert_gt(n, 3, "several chunks were needed");
                        break;
                }
                cr_assert_eq(rc, TL_ENOMEM);
                cr_assert_eq(attempts, n + 1);
        }
}

Test(buf, append_printf_and_clear)
{
        struct tl_buf b;

        tl_buf_init(&b, 0);
        cr_assert_eq(tl_buf_puts(&b, "seat", NULL), TL_OK);
        cr_assert_eq(tl_buf_printf(&b, NULL, "-%d-%s", 42, "small"), TL_OK);
        cr_assert_str_eq(b.data, "seat-42-small");
        cr_assert_eq(b.len, 13);
        for (int i = 0; i < 1000; i++)
                cr_assert_eq(tl_buf_append(&b, "x", 1, NULL), TL_OK);
        cr_assert_eq(b.len, 1013);
        tl_buf_clear(&b);
        cr_assert_str_eq(b.data, "");
        tl_buf_release(&b);
}

Test(buf, cap_refuses_growth_and_keeps_contents)
{
        struct tl_buf b;
        struct tl_error err;

        tl_buf_init(&b, 8);
        cr_assert_eq(tl_buf_puts(&b, "12345678", NULL), TL_OK);
        cr_assert_eq(tl_buf_puts(&b, "9", &err), TL_ELIMIT);
        cr_assert_str_eq(b.data, "12345678");
        cr_assert(strstr(err.msg, "cap of 8 bytes"));
        tl_buf_release(&b);
}

Test(buf, allocation_failure_is_enomem_and_keeps_contents)
{
        struct tl_buf b;
        tl_status rc;

        tl_buf_init(&b, 0);
        cr_assert_eq(tl_buf_puts(&b, "keep", NULL), TL_OK);
        tl_alloc_fail_after(0);
        rc = tl_buf_append(&b,
                           "0123456789012345678901234567890123456789"
                           "0123456789012345678901234567890123456789",
                           80, NULL);
        tl_alloc_fail_reset();
        cr_assert_eq(rc, TL_ENOMEM);
        cr_assert_str_eq(b.data, "keep");
        tl_buf_release(&b);
}

static bool valid(const char *s)
{
        return tl_utf8_valid(s, strlen(s));
}

Test(utf8, accepts_well_formed_text)
{
        cr_assert(valid("cust_0042"));
        cr_assert(valid("Zürich – 東京 – 🙂"));
        cr_assert(valid("\xF4\x8F\xBF\xBF")); /* U+10FFFF */
        cr_assert(tl_utf8_valid("a\0b", 3));
}

Test(utf8, rejects_malformed_sequences)
{
        cr_assert_not(valid("\xC0\xAF"));         /* overlong '/' */
        cr_assert_not(valid("\xE0\x80\xAF"));     /* overlong */
        cr_assert_not(valid("\xED\xA0\x80"));     /* surrogate */
        cr_assert_not(valid("\xF4\x90\x80\x80")); /* > U+10FFFF */
        cr_assert_not(valid("\x80"));             /* lone continuation */
        cr_assert_not(valid("\xE2\x82"));         /* truncated */
        cr_assert_not(valid("ab\xFF"));
}
