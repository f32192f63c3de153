/* test_dlp.c: the DLP detector engine (gov/dlp): validators, normalisation,
 * each built-in detector with positive and negative examples, context,
 * bulk, custom detectors, masking and the policy table. */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>

#include "gov/dlp/dlp.h"
#include "gov/dlp/dlp_internal.h"

static struct balai_dlp_config *cfg;
static struct balai_dlp_result res;

static int setup(void **state)
{
    cfg = balai_dlp_config_new();
    return cfg ? 0 : -1;
}

static int teardown(void **state)
{
    balai_dlp_config_free(cfg);
    cfg = NULL;
    return 0;
}

static const struct balai_dlp_result *scan_with(const struct balai_dlp_config *c, const char *s)
{
    assert_int_equal(balai_dlp_scan(c, s, strlen(s), &res), BALAI_OK);
    return &res;
}

static const struct balai_dlp_result *scan(const char *s)
{
    return scan_with(cfg, s);
}

/* The first finding of a type, or NULL. */
static const struct balai_dlp_finding *find(const struct balai_dlp_result *r, enum balai_dlp_type t)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->findings[i].type == t)
            return &r->findings[i];
    return NULL;
}

/* Exactly one finding, of type t, at [off, off + len). */
static const struct balai_dlp_finding *expect_one(const char *s, enum balai_dlp_type t, size_t off,
                                                  size_t len)
{
    const struct balai_dlp_result *r = scan(s);
    if (r->n != 1)
        fail_msg("'%s': %zu findings, want 1 %s (first: %s)", s, r->n, balai_dlp_type_name(t),
                 r->n ? balai_dlp_type_name(r->findings[0].type) : "-");
    if (r->findings[0].type != t)
        fail_msg("'%s': found %s, want %s", s, balai_dlp_type_name(r->findings[0].type),
                 balai_dlp_type_name(t));
    assert_int_equal(r->findings[0].off, off);
    assert_int_equal(r->findings[0].len, len);
    return &r->findings[0];
}

static void expect_none(const char *s)
{
    const struct balai_dlp_result *r = scan(s);
    if (r->n != 0)
        fail_msg("'%s': unexpected %s (%s)", s, balai_dlp_type_name(r->findings[0].type),
                 r->findings[0].masked);
}

/* ---- validators and the region table ---- */

static void regions(void **state)
{
    assert_true(balai__dlp_region_valid(31, 71)); /* Jakarta Selatan */
    assert_true(balai__dlp_region_valid(31, 1));  /* Kepulauan Seribu */
    assert_false(balai__dlp_region_valid(31, 2));
    assert_false(balai__dlp_region_valid(31, 76));
    assert_true(balai__dlp_region_valid(35, 78)); /* Surabaya */
    assert_true(balai__dlp_region_valid(93, 1));  /* Merauke, Papua Selatan */
    assert_true(balai__dlp_region_valid(94, 8));  /* Deiyai, Papua Tengah */
    assert_true(balai__dlp_region_valid(95, 8));  /* Nduga, Papua Pegunungan */
    assert_true(balai__dlp_region_valid(96, 71)); /* Kota Sorong, Papua Barat Daya */
    assert_false(balai__dlp_region_valid(96, 6));
    assert_false(balai__dlp_region_valid(93, 71));
    /* Codes valid before splits. */
    assert_true(balai__dlp_region_valid(91, 1)); /* Merauke, old Papua */
    assert_true(balai__dlp_region_valid(91, 28));
    assert_true(balai__dlp_region_valid(92, 1));  /* Sorong, old Papua Barat */
    assert_true(balai__dlp_region_valid(64, 73)); /* Tarakan, old Kalimantan Timur */
    assert_true(balai__dlp_region_valid(73, 19)); /* Sulawesi Barat area, old Sulsel */
    assert_false(balai__dlp_region_valid(73, 27));
    assert_false(balai__dlp_region_valid(20, 1));
    assert_false(balai__dlp_region_valid(97, 1));
    assert_false(balai__dlp_region_valid(0, 0));
}

static void validators(void **state)
{
    assert_true(balai__dlp_nik_valid("3171010508900001"));
    assert_true(balai__dlp_nik_valid("3171014508900001")); /* woman: day 45 */
    assert_false(balai__dlp_kk_valid("3171014508900001"));
    assert_true(balai__dlp_kk_valid("3171010508900001"));
    assert_true(balai__dlp_nik_valid("3171012902920001"));  /* 29 Feb 92 */
    assert_false(balai__dlp_nik_valid("3171012902910001")); /* 29 Feb 91 */
    assert_true(balai__dlp_nik_valid("3171016902000001"));  /* woman, 29 Feb 00 */
    assert_true(balai__dlp_luhn("4111111111111111", 16));
    assert_false(balai__dlp_luhn("4111111111111112", 16));
    assert_true(balai__dlp_npwp15_valid("012345674123000"));
    assert_false(balai__dlp_npwp15_valid("012345675123000"));
    assert_true(balai__dlp_npwp15_valid("021832415000000")); /* 02.183.241.5-000.000 */
    assert_false(balai__dlp_npwp15_valid("000000000123000"));
    assert_string_equal(balai__dlp_card_brand("4111111111111111", 16), "Visa");
    assert_string_equal(balai__dlp_card_brand("5555555555554444", 16), "Mastercard");
    assert_string_equal(balai__dlp_card_brand("2223003122003222", 16), "Mastercard");
    assert_string_equal(balai__dlp_card_brand("378282246310005", 15), "Amex");
    assert_string_equal(balai__dlp_card_brand("3530111333300000", 16), "JCB");
    assert_string_equal(balai__dlp_card_brand("6011111111111117", 16), "Discover");
    assert_null(balai__dlp_card_brand("4111111111111111", 15));
    assert_null(balai__dlp_card_brand("1111111111111117", 16));
    assert_true(balai__dlp_iban_valid("DE89370400440532013000", 22));
    assert_true(balai__dlp_iban_valid("GB82WEST12345698765432", 22));
    assert_false(balai__dlp_iban_valid("DE88370400440532013000", 22));
}

/* ---- NIK ---- */

static void nik_valid(void **state)
{
    const struct balai_dlp_finding *f;

    f = expect_one("NIK saya 3171010508900001 ya", BALAI_DLP_NIK, 9, 16);
    assert_string_equal(f->masked, "3171********0001");
    assert_string_equal(f->name, "NIK");
    assert_int_equal(f->category, BALAI_DLP_CAT_IDENTITY);
    assert_int_equal(f->confidence, 95);
    f = expect_one("3171014508900001", BALAI_DLP_NIK, 0, 16); /* woman, no cue */
    assert_int_equal(f->confidence, 70);
    expect_one("ktp: 9301010508900001.", BALAI_DLP_NIK, 5, 16); /* Papua Selatan */
    expect_one("9118010508900001", BALAI_DLP_NIK, 0, 16);       /* old Papua code */
    expect_one("6473010508900001", BALAI_DLP_NIK, 0, 16);       /* Tarakan before 2012 */
}

static void nik_invalid(void **state)
{
    expect_none("9971010508900001");      /* no province 99 */
    expect_none("3102010508900001");      /* Jakarta has one kabupaten */
    expect_none("3176010508900001");      /* and kota 71-75 */
    expect_none("9609010508900001");      /* Papua Barat Daya has 5 kabupaten */
    expect_none("3171000508900001");      /* district 00 */
    expect_none("3171013208900001");      /* day 32 */
    expect_none("3171017208900001");      /* day 72 (32 + 40) */
    expect_none("3171010008900001");      /* day 0 */
    expect_none("3171010513900001");      /* month 13 */
    expect_none("3171013002900001");      /* 30 February */
    expect_none("3171012902910001");      /* 29 February 1991 */
    expect_none("3171013104900001");      /* 31 April */
    expect_none("3171010508900000");      /* serial 0000 */
    expect_none("31710105089000011");     /* 17 digits */
    expect_none("x3171010508900001");     /* inside a word */
    expect_none("3171010508900001abc");   /* glued to a word */
    expect_none("a1b2c3171010508900001"); /* hash-like */
}

static void normalised_forms(void **state)
{
    /* "３１７１０１０５０８９０００００１" in full-width digits. */
    char fw[128] = "NIK: ";
    const char *digits = "3171010508900001";
    const struct balai_dlp_finding *f;

    expect_one("NIK 3171 0105 0890 0001.", BALAI_DLP_NIK, 4, 19);
    expect_one("NIK 31.71.01-050890-0001", BALAI_DLP_NIK, 4, 20);
    expect_one("3171-0105-0890-0001", BALAI_DLP_NIK, 0, 19);
    for (size_t i = 0; i < 16; i++) {
        char ch[4] = {(char)0xEF, (char)0xBC, (char)(0x90 + (digits[i] - '0')), 0};
        strcat(fw, ch);
    }
    f = expect_one(fw, BALAI_DLP_NIK, 5, 48);
    assert_string_equal(f->masked, "3171********0001");
    /* Zero-width space, word joiner, BOM and soft hyphen inside. */
    f = expect_one("NIK 3171\xE2\x80\x8B"
                   "0105\xE2\x81\xA0"
                   "0890\xC2\xAD"
                   "00\xEF\xBB\xBF"
                   "01 ok",
                   BALAI_DLP_NIK, 4, 16 + 3 + 3 + 2 + 3);
    assert_string_equal(f->masked, "3171********0001");
    /* A zero-width joiner between the words of a cue. */
    expect_one("\xE2\x80\x8D"
               "3171010508900001",
               BALAI_DLP_NIK, 3, 16);
    /* No-break spaces as separators. */
    expect_one("3171\xC2\xA0"
               "0105\xC2\xA0"
               "0890\xC2\xA0"
               "0001",
               BALAI_DLP_NIK, 0, 22);
    /* Two separators in a row end the number. */
    expect_none("3171  0105 0890 0001");
}

static void kk_vs_nik(void **state)
{
    const struct balai_dlp_result *r;

    expect_one("No KK: 3171010508900001", BALAI_DLP_KK, 7, 16);
    expect_one("kartu keluarga 3171010508900001", BALAI_DLP_KK, 15, 16);
    expect_one("3171010508900001 (kk)", BALAI_DLP_KK, 0, 16);
    expect_one("NIK 3171010508900001", BALAI_DLP_NIK, 4, 16);
    /* Nothing distinguishes: NIK. */
    expect_one("nomor 3171010508900001", BALAI_DLP_NIK, 6, 16);
    /* Day 45 cannot be a KK's issue date. */
    expect_one("No KK: 3171014508900001", BALAI_DLP_NIK, 7, 16);
    /* Each number takes the nearer cue. */
    r = scan("NIK: 3171010508900001\nNo. KK: 3171012003150004");
    assert_int_equal(r->n, 2);
    assert_int_equal(r->findings[0].type, BALAI_DLP_NIK);
    assert_int_equal(r->findings[1].type, BALAI_DLP_KK);
    assert_int_equal(r->findings[1].off, 30);
}

/* ---- NPWP ---- */

static void npwp(void **state)
{
    const struct balai_dlp_finding *f;

    f = expect_one("NPWP 01.234.567.4-123.000", BALAI_DLP_NPWP, 5, 20);
    assert_int_equal(f->category, BALAI_DLP_CAT_TAX);
    assert_int_equal(f->confidence, 95);
    assert_string_equal(f->masked, "0123*******3000");
    f = expect_one("01.234.567.4-123.000", BALAI_DLP_NPWP, 0, 20);
    assert_int_equal(f->confidence, 90);
    f = expect_one("012345674123000", BALAI_DLP_NPWP, 0, 15);
    assert_int_equal(f->confidence, 60);
    expect_none("NPWP 01.234.567.5-123.000"); /* bad check digit */
    expect_none("012345675123000");
    /* 16-digit form: 0 + the 15-digit number. */
    expect_one("npwp 0012345674123000", BALAI_DLP_NPWP, 5, 16);
    expect_none("0012345675123000");
    /* A person's 16-digit NPWP is the NIK: reported once, as NIK. */
    f = expect_one("NPWP: 3171010508900001", BALAI_DLP_NIK, 6, 16);
    assert_int_equal(f->confidence, 85);
}

/* ---- BPJS and phones ---- */

static void bpjs_and_phone(void **state)
{
    const struct balai_dlp_finding *f;

    f = expect_one("No. kartu BPJS 0001234567890", BALAI_DLP_BPJS, 15, 13);
    assert_int_equal(f->category, BALAI_DLP_CAT_HEALTH);
    assert_int_equal(f->confidence, 90);
    expect_one("0002345678901", BALAI_DLP_BPJS, 0, 13);
    expect_none("0000000000000");
    /* 13-digit mobile numbers are phones, never BPJS. */
    f = expect_one("hubungi 0812345678901", BALAI_DLP_PHONE, 8, 13);
    assert_int_equal(f->category, BALAI_DLP_CAT_CONTACT);
    expect_one("BPJS 0812345678901", BALAI_DLP_PHONE, 5, 13);
    expect_one("0812-3456-7890", BALAI_DLP_PHONE, 0, 14);
    expect_one("wa: +62 812-3456-7890", BALAI_DLP_PHONE, 4, 17);
    expect_one("6281234567890", BALAI_DLP_PHONE, 0, 13);
    f = expect_one("0812 3456 789", BALAI_DLP_PHONE, 0, 13);
    assert_string_equal(f->masked, "*******6789");
    expect_none("021 5551234");       /* landline */
    expect_none("08123456");          /* too short */
    expect_none("08123456789012345"); /* too long */
    expect_none("0801234567");        /* 080 is no mobile prefix */
}

/* ---- passport ---- */

static void passport(void **state)
{
    const struct balai_dlp_finding *f;

    f = expect_one("nomor paspor B1234567", BALAI_DLP_PASSPORT, 13, 8);
    assert_int_equal(f->confidence, 80);
    assert_string_equal(f->masked, "****4567");
    f = expect_one("kode X7654321 dikirim", BALAI_DLP_PASSPORT, 5, 8);
    assert_int_equal(f->confidence, 30);
    expect_none("paspor b1234567");
    expect_none("paspor B123456");
    expect_none("paspor B12345678");
    expect_none("paspor BB1234567");
}

/* ---- cards ---- */

static void cards(void **state)
{
    const struct balai_dlp_finding *f;

    f = expect_one("4111 1111 1111 1111", BALAI_DLP_CARD, 0, 19);
    assert_string_equal(f->name, "Visa");
    assert_string_equal(f->masked, "4111********1111");
    assert_int_equal(f->category, BALAI_DLP_CAT_CARD);
    expect_one("kartu: 5555-5555-5555-4444", BALAI_DLP_CARD, 7, 19);
    f = expect_one("amex 3782 822463 10005", BALAI_DLP_CARD, 5, 17);
    assert_string_equal(f->name, "Amex");
    expect_one("4111111111111111", BALAI_DLP_CARD, 0, 16);
    expect_none("4111111111111112");    /* bad Luhn */
    expect_none("4111.1111.1111.1111"); /* dots are no card separators */
    expect_none("1234567812345670");    /* Luhn but no issuer */
    /* A valid NIK that passes Luhn: a NIK, unless card context is there. */
    expect_one("3578010508900003", BALAI_DLP_NIK, 0, 16);
    f = expect_one("kartu kredit 3578010508900003", BALAI_DLP_CARD, 13, 16);
    assert_string_equal(f->name, "JCB");
    expect_one("5171010508900009", BALAI_DLP_NIK, 0, 16);
    expect_one("cc 5171010508900009 exp 12/27", BALAI_DLP_CARD, 3, 16);
    expect_one("Mastercard: 5171 0105 0890 0009", BALAI_DLP_CARD, 12, 19);
}

/* ---- IBAN ---- */

static void iban(void **state)
{
    const struct balai_dlp_finding *f;

    f = expect_one("IBAN DE89 3704 0044 0532 0130 00 ya", BALAI_DLP_IBAN, 5, 27);
    assert_string_equal(f->masked, "DE89**************3000");
    assert_int_equal(f->category, BALAI_DLP_CAT_BANK);
    expect_one("GB82WEST12345698765432", BALAI_DLP_IBAN, 0, 22);
    expect_one("DE89 3704 0044 0532 0130 00 BANK", BALAI_DLP_IBAN, 0, 27);
    expect_none("DE88 3704 0044 0532 0130 00");
    expect_none("DE89370400440532013000X1");
    expect_none("de89 3704 0044 0532 0130 00");
}

/* ---- e-mail ---- */

static void email(void **state)
{
    const struct balai_dlp_finding *f;

    f = expect_one("kirim ke budi.santoso@kantor.go.id ya", BALAI_DLP_EMAIL, 9, 25);
    assert_string_equal(f->masked, "b***@kantor.go.id");
    assert_int_equal(f->category, BALAI_DLP_CAT_CONTACT);
    expect_one("<siti+hr@example.co.id>.", BALAI_DLP_EMAIL, 1, 21);
    /* Digits in the address are part of it, not a phone. */
    expect_one("081234567890@mail.com", BALAI_DLP_EMAIL, 0, 21);
    expect_none("budi@localhost");
    expect_none("a@b.c");
    expect_none("@budi halo");
    expect_none("budi@.com");
    expect_none("budi@-x.com");
    expect_none("budi@x.123");
    expect_none("budi.@x.com");
}

/* ---- context words ---- */

static void context_words(void **state)
{
    const struct balai_dlp_finding *f;

    f = expect_one("diagnosa pasien: demam", BALAI_DLP_CONTEXT, 0, 8);
    assert_int_equal(f->category, BALAI_DLP_CAT_HEALTH);
    assert_string_equal(f->masked, "diagnosa");
    f = expect_one("Siapa Nama  Ibu\nKandung kamu?", BALAI_DLP_CONTEXT, 6, 17);
    assert_int_equal(f->category, BALAI_DLP_CAT_IDENTITY);
    assert_string_equal(f->name, "nama ibu kandung");
    expect_one("no. RM pasien", BALAI_DLP_CONTEXT, 0, 6);
    expect_one("No RM pasien", BALAI_DLP_CONTEXT, 0, 5);
    expect_one("no.rm pasien", BALAI_DLP_CONTEXT, 0, 5);
    f = expect_one("REKAM MEDIS", BALAI_DLP_CONTEXT, 0, 11);
    assert_int_equal(f->category, BALAI_DLP_CAT_HEALTH);
    f = expect_one("gaji bulan ini", BALAI_DLP_CONTEXT, 0, 4);
    assert_int_equal(f->category, BALAI_DLP_CAT_BANK);
    f = expect_one("bawa KTP besok", BALAI_DLP_CONTEXT, 5, 3);
    assert_int_equal(f->confidence, 40);
    expect_none("norm");
    expect_none("gajian");
    expect_none("diagnosanya");
    expect_none("nama ibu");
    expect_none("kartu kredit"); /* a cue only */
    /* A cue that named an identifier is not reported again. */
    expect_one("NIK: 3171010508900001", BALAI_DLP_NIK, 5, 16);
}

static void context_config(void **state)
{
    struct balai_dlp_config *c = balai_dlp_config_new();
    char err[BALAI_DLP_ERR_LEN];
    const struct balai_dlp_result *r;

    assert_int_equal(
        balai_dlp_context_add(c, "slip gaji", BALAI_DLP_CAT_BANK, 70, err, sizeof(err)), BALAI_OK);
    r = scan_with(c, "ini Slip Gaji saya");
    assert_int_equal(r->n, 2); /* "slip gaji" and "gaji" */
    assert_int_equal(balai_dlp_context_add(c, "", BALAI_DLP_CAT_BANK, 70, err, sizeof(err)),
                     BALAI_EINVAL);
    assert_int_equal(balai_dlp_context_add(c, " x", BALAI_DLP_CAT_BANK, 70, err, sizeof(err)),
                     BALAI_EINVAL);
    assert_int_equal(balai_dlp_context_add(c, "x", BALAI_DLP_CAT_BANK, 101, err, sizeof(err)),
                     BALAI_EINVAL);
    balai_dlp_context_clear(c);
    r = scan_with(c, "diagnosa gaji KTP");
    assert_int_equal(r->n, 0);
    /* The cues still tell KK from NIK. */
    r = scan_with(c, "KK 3171010508900001");
    assert_int_equal(r->n, 1);
    assert_int_equal(r->findings[0].type, BALAI_DLP_KK);
    balai_dlp_config_enable(c, BALAI_DLP_NIK, false);
    balai_dlp_config_enable(c, BALAI_DLP_KK, false);
    r = scan_with(c, "3171010508900001");
    assert_int_equal(r->n, 0);
    balai_dlp_config_free(c);
}

/* ---- amounts and other numbers ---- */

static void ordinary_numbers(void **state)
{
    expect_none("Rp 15.000.000.000.000 untuk proyek");
    expect_none("rapat 12-03-2024 jam 10.30");
    expect_none("order 1234567 qty 12");
    expect_none("id 123456789012345678901234567890");
    expect_none("v1.2.3-4.5.6 build 2024");
    expect_none("");
}

/* ---- bulk ---- */

static void bulk(void **state)
{
    struct balai_dlp_config *c;
    const struct balai_dlp_result *r;
    const struct balai_dlp_finding *f;
    const char *table = "nama,nik\nA,3171010508900001\nB,3171010508900002\nC,3171014508900003\n"
                        "D,3171010508900004\nE,3171010508900005\n";

    r = scan(table);
    f = find(r, BALAI_DLP_BULK);
    if (!f) {
        fail_msg("no bulk finding");
        return;
    }
    assert_int_equal(r->count[BALAI_DLP_NIK], 5);
    assert_int_equal(f->category, BALAI_DLP_CAT_BULK);
    assert_int_equal(f->off, 11);
    assert_string_equal(f->masked, "5 identifiers");
    r = scan("A,3171010508900001\nB,3171010508900002\nC,3171014508900003\nD,3171010508900004");
    assert_null(find(r, BALAI_DLP_BULK));
    /* Phones do not count by default. */
    r = scan("0812345678901 0812345678902 0812345678903 0812345678904 0812345678905");
    assert_int_equal(r->count[BALAI_DLP_PHONE], 5);
    assert_null(find(r, BALAI_DLP_BULK));
    c = balai_dlp_config_new();
    balai_dlp_config_set_bulk(c, 2, 0);
    r = scan_with(c, "4111111111111111 dan 5555555555554444");
    assert_non_null(find(r, BALAI_DLP_BULK));
    balai_dlp_config_free(c);
}

static void many_findings(void **state)
{
    char buf[4096] = "";
    const struct balai_dlp_result *r;

    for (int i = 0; i < 40; i++) {
        char line[32];
        snprintf(line, sizeof(line), "31710105089%05d\n", i + 1);
        strcat(buf, line);
    }
    r = scan(buf);
    assert_true(r->truncated);
    assert_int_equal(r->n, BALAI_DLP_MAX_FINDINGS);
    assert_int_equal(r->count[BALAI_DLP_NIK], 40);
    assert_non_null(find(r, BALAI_DLP_BULK));
    for (size_t i = 1; i < r->n; i++)
        assert_true(r->findings[i - 1].off <= r->findings[i].off);
}

/* ---- custom detectors ---- */

static void custom_regex(void **state)
{
    struct balai_dlp_config *c = balai_dlp_config_new();
    char err[BALAI_DLP_ERR_LEN];
    const struct balai_dlp_result *r;
    char *slow;
    char *masked;

    assert_int_equal(balai_dlp_custom_add_regex(c, "kode proyek", "PRJ-[0-9]{4}",
                                                BALAI_DLP_CAT_OTHER, err, sizeof(err)),
                     BALAI_OK);
    r = scan_with(c, "lihat PRJ-1234 dan PRJ-99");
    assert_int_equal(r->n, 1);
    assert_int_equal(r->findings[0].type, BALAI_DLP_CUSTOM);
    assert_string_equal(r->findings[0].name, "kode proyek");
    assert_int_equal(r->findings[0].off, 6);
    assert_int_equal(r->findings[0].len, 8);
    assert_int_equal(r->findings[0].category, BALAI_DLP_CAT_OTHER);
    assert_int_equal(balai_dlp_mask("lihat PRJ-1234 dan PRJ-99", 25, r, &masked, NULL), BALAI_OK);
    assert_string_equal(masked, "lihat ***-1234 dan PRJ-99");
    free(masked);
    /* Matched on the normalised text, reported in the original. */
    r = scan_with(c, "\xE2\x80\x8BPRJ-\xEF\xBC\x91"
                     "234");
    assert_int_equal(r->n, 1);
    assert_int_equal(r->findings[0].off, 3);
    assert_int_equal(r->findings[0].len, 10);
    /* Bad patterns: PCRE2's message with the offset. */
    assert_int_equal(
        balai_dlp_custom_add_regex(c, "bad", "(abc", BALAI_DLP_CAT_OTHER, err, sizeof(err)),
        BALAI_EINVAL);
    assert_non_null(strstr(err, "offset 4"));
    assert_non_null(strstr(err, "parenthesis"));
    assert_int_equal(
        balai_dlp_custom_add_regex(c, "empty", "a*", BALAI_DLP_CAT_OTHER, err, sizeof(err)),
        BALAI_EINVAL);
    assert_int_equal(balai_dlp_custom_add_regex(c, "", "a", BALAI_DLP_CAT_OTHER, err, sizeof(err)),
                     BALAI_EINVAL);
    assert_int_equal(balai_dlp_custom_add_regex(c, "x", "a", BALAI_DLP_CAT_BULK, err, sizeof(err)),
                     BALAI_EINVAL);
    /* A catastrophic pattern stops at the match limit. */
    assert_int_equal(
        balai_dlp_custom_add_regex(c, "slow", "(a+)+$", BALAI_DLP_CAT_OTHER, err, sizeof(err)),
        BALAI_OK);
    slow = malloc(4002);
    memset(slow, 'a', 4000);
    slow[4000] = 'b';
    slow[4001] = '\0';
    r = scan_with(c, slow);
    assert_true(r->limit_hit);
    assert_null(find(r, BALAI_DLP_CUSTOM));
    free(slow);
    /* Invalid UTF-8 is matched safely. */
    r = scan_with(c, "\xFF\xFE PRJ-0001 \xC3");
    assert_int_equal(r->count[BALAI_DLP_CUSTOM], 1);
    balai_dlp_config_free(c);
}

static void custom_keywords(void **state)
{
    struct balai_dlp_config *c = balai_dlp_config_new();
    char err[BALAI_DLP_ERR_LEN];
    const char *words[] = {"proyek garuda", "rahasia"};
    const char *bad[] = {"ok", ""};
    const struct balai_dlp_result *r;

    assert_int_equal(
        balai_dlp_custom_add_keywords(c, "proyek", words, 2, BALAI_DLP_CAT_OTHER, err, sizeof(err)),
        BALAI_OK);
    r = scan_with(c, "Soal Proyek  Garuda: RAHASIA!");
    assert_int_equal(r->n, 2);
    assert_int_equal(r->findings[0].type, BALAI_DLP_CUSTOM);
    assert_string_equal(r->findings[0].name, "proyek");
    assert_int_equal(r->findings[0].off, 5);
    assert_int_equal(r->findings[0].len, 14);
    assert_int_equal(r->findings[1].off, 21);
    r = scan_with(c, "kerahasiaan proyek garudanya");
    assert_int_equal(r->n, 0);
    assert_int_equal(
        balai_dlp_custom_add_keywords(c, "bad", bad, 2, BALAI_DLP_CAT_OTHER, err, sizeof(err)),
        BALAI_EINVAL);
    r = scan_with(c, "ok");
    assert_int_equal(r->n, 0); /* nothing of the bad list was added */
    balai_dlp_config_free(c);
}

/* ---- masking ---- */

static void masking(void **state)
{
    const char *s = "NIK 3171 0105 0890 0001, email budi@x.co.id, kartu 4111-1111-1111-1111";
    const struct balai_dlp_result *r = scan(s);
    char *out;
    size_t n;

    assert_int_equal(r->n, 3);
    assert_int_equal(balai_dlp_mask(s, strlen(s), r, &out, &n), BALAI_OK);
    assert_string_equal(out, "NIK **** **** **** 0001, email b***@x.co.id, kartu "
                             "****-****-****-1111");
    assert_int_equal(n, strlen(out));
    free(out);
    /* Full-width digits become one '*' each; invisible characters stay. */
    s = "\xEF\xBC\x93"
        "171010508900001\xE2\x80\x8B";
    r = scan(s);
    assert_int_equal(r->n, 1);
    assert_int_equal(balai_dlp_mask(s, strlen(s), r, &out, NULL), BALAI_OK);
    assert_string_equal(out, "************0001\xE2\x80\x8B");
    free(out);
    /* Context words are left as they are. */
    s = "diagnosa: demam";
    r = scan(s);
    assert_int_equal(balai_dlp_mask(s, strlen(s), r, &out, NULL), BALAI_OK);
    assert_string_equal(out, s);
    free(out);
    /* A result that does not fit the text is refused. */
    s = "NIK 3171010508900001";
    r = scan(s);
    assert_int_equal(balai_dlp_mask(s, 5, r, &out, NULL), BALAI_EINVAL);
    assert_null(out);
}

/* ---- policy ---- */

static void policy_defaults(void **state)
{
    struct balai_dlp_policy *p = balai_dlp_policy_new();
    const struct balai_dlp_result *r;

    assert_int_equal(balai_dlp_policy_action(p, "public", BALAI_DLP_CAT_IDENTITY), BALAI_DLP_WARN);
    assert_int_equal(balai_dlp_policy_action(p, "internal", BALAI_DLP_CAT_CARD), BALAI_DLP_WARN);
    assert_int_equal(balai_dlp_policy_action(p, "internal", BALAI_DLP_CAT_TAX), BALAI_DLP_WARN);
    assert_int_equal(balai_dlp_policy_action(p, "internal", BALAI_DLP_CAT_HEALTH), BALAI_DLP_WARN);
    assert_int_equal(balai_dlp_policy_action(p, "confidential", BALAI_DLP_CAT_HEALTH),
                     BALAI_DLP_AUDIT);
    assert_int_equal(balai_dlp_policy_action(p, "restricted-health", BALAI_DLP_CAT_HEALTH),
                     BALAI_DLP_ALLOW);
    assert_int_equal(balai_dlp_policy_action(p, "Restricted-Finance", BALAI_DLP_CAT_CARD),
                     BALAI_DLP_ALLOW);
    for (int c = 0; c < 4; c++) {
        const char *labels[] = {"public", "internal", "confidential", "restricted-health"};
        assert_int_equal(balai_dlp_policy_action(p, labels[c], BALAI_DLP_CAT_BULK),
                         BALAI_DLP_BLOCK);
        assert_int_equal(balai_dlp_policy_action(p, labels[c], BALAI_DLP_CAT_CONTACT),
                         BALAI_DLP_AUDIT);
    }
    assert_int_equal(balai_dlp_policy_action(p, NULL, BALAI_DLP_CAT_IDENTITY), BALAI_DLP_WARN);
    assert_int_equal(balai_dlp_policy_action(p, "made-up", BALAI_DLP_CAT_IDENTITY), BALAI_DLP_WARN);
    /* Decisions over results. */
    r = scan("halo semua");
    assert_int_equal(balai_dlp_policy_decide(p, "internal", r), BALAI_DLP_ALLOW);
    r = scan("NIK 3171010508900001 email budi@x.co.id");
    assert_int_equal(balai_dlp_policy_decide(p, "internal", r), BALAI_DLP_WARN);
    assert_int_equal(balai_dlp_policy_decide(p, "confidential", r), BALAI_DLP_AUDIT);
    assert_int_equal(balai_dlp_policy_decide(p, "restricted-health", r), BALAI_DLP_AUDIT);
    assert_int_equal(balai_dlp_policy_finding(p, "internal", &r->findings[0]), BALAI_DLP_WARN);
    r = scan("budi@x.co.id");
    assert_int_equal(balai_dlp_policy_decide(p, "public", r), BALAI_DLP_AUDIT);
    /* Low confidence: audited, not warned. */
    r = scan("bawa KTP besok");
    assert_int_equal(balai_dlp_policy_decide(p, "internal", r), BALAI_DLP_AUDIT);
    r = scan("kode X7654321");
    assert_int_equal(balai_dlp_policy_decide(p, "internal", r), BALAI_DLP_AUDIT);
    r = scan("3171010508900001 3171010508900002 3171010508900003 3171010508900004 "
             "3171010508900005");
    assert_int_equal(balai_dlp_policy_decide(p, "restricted-health", r), BALAI_DLP_BLOCK);
    assert_int_equal(balai_dlp_policy_decide(p, "internal", r), BALAI_DLP_BLOCK);
    balai_dlp_policy_free(p);
    balai_dlp_policy_free(NULL);
}

static void policy_overrides(void **state)
{
    struct balai_dlp_policy *p = balai_dlp_policy_new();
    char err[BALAI_DLP_ERR_LEN];
    const struct balai_dlp_result *r;

    assert_int_equal(balai_dlp_policy_set(p,
                                          "internal.card=block, restricted-*.identity=hold;"
                                          " *.contact=allow\tconfidential.*=mask",
                                          err, sizeof(err)),
                     BALAI_OK);
    assert_int_equal(balai_dlp_policy_action(p, "internal", BALAI_DLP_CAT_CARD), BALAI_DLP_BLOCK);
    assert_int_equal(balai_dlp_policy_action(p, "INTERNAL", BALAI_DLP_CAT_CARD), BALAI_DLP_BLOCK);
    assert_int_equal(balai_dlp_policy_action(p, NULL, BALAI_DLP_CAT_CARD), BALAI_DLP_BLOCK);
    assert_int_equal(balai_dlp_policy_action(p, "public", BALAI_DLP_CAT_CARD), BALAI_DLP_WARN);
    assert_int_equal(balai_dlp_policy_action(p, "restricted-finance", BALAI_DLP_CAT_IDENTITY),
                     BALAI_DLP_HOLD);
    assert_int_equal(balai_dlp_policy_action(p, "public", BALAI_DLP_CAT_CONTACT), BALAI_DLP_ALLOW);
    assert_int_equal(balai_dlp_policy_action(p, "confidential", BALAI_DLP_CAT_CONTACT),
                     BALAI_DLP_MASK);
    /* The strongest action wins: HOLD > BLOCK > WARN > MASK > AUDIT > ALLOW. */
    r = scan("NIK 3171010508900001 kartu 4111111111111111");
    assert_int_equal(balai_dlp_policy_decide(p, "internal", r), BALAI_DLP_BLOCK);
    assert_int_equal(balai_dlp_policy_decide(p, "restricted-finance", r), BALAI_DLP_HOLD);
    assert_int_equal(balai_dlp_policy_decide(p, "confidential", r), BALAI_DLP_MASK);
    assert_true(BALAI_DLP_HOLD > BALAI_DLP_BLOCK && BALAI_DLP_BLOCK > BALAI_DLP_WARN &&
                BALAI_DLP_WARN > BALAI_DLP_MASK && BALAI_DLP_MASK > BALAI_DLP_AUDIT &&
                BALAI_DLP_AUDIT > BALAI_DLP_ALLOW);
    /* Later rules win. */
    assert_int_equal(balai_dlp_policy_set(p, "internal.card=audit", err, sizeof(err)), BALAI_OK);
    assert_int_equal(balai_dlp_policy_action(p, "internal", BALAI_DLP_CAT_CARD), BALAI_DLP_AUDIT);
    /* min_confidence. */
    r = scan("bawa KTP besok");
    assert_int_equal(balai_dlp_policy_set(p, "min_confidence=30", err, sizeof(err)), BALAI_OK);
    assert_int_equal(balai_dlp_policy_decide(p, "internal", r), BALAI_DLP_WARN);
    /* Errors name the rule; nothing changes. */
    assert_int_equal(
        balai_dlp_policy_set(p, "public.card=block internal.cardx=block", err, sizeof(err)),
        BALAI_EINVAL);
    assert_non_null(strstr(err, "unknown category 'cardx'"));
    assert_int_equal(balai_dlp_policy_action(p, "public", BALAI_DLP_CAT_CARD), BALAI_DLP_WARN);
    assert_int_equal(balai_dlp_policy_set(p, "internal.card=nuke", err, sizeof(err)), BALAI_EINVAL);
    assert_non_null(strstr(err, "unknown action 'nuke'"));
    assert_int_equal(balai_dlp_policy_set(p, "internal=block", err, sizeof(err)), BALAI_EINVAL);
    assert_int_equal(balai_dlp_policy_set(p, "internal.card", err, sizeof(err)), BALAI_EINVAL);
    assert_int_equal(balai_dlp_policy_set(p, "in/ternal.card=block", err, sizeof(err)),
                     BALAI_EINVAL);
    assert_int_equal(balai_dlp_policy_set(p, "min_confidence=200", err, sizeof(err)), BALAI_EINVAL);
    assert_int_equal(balai_dlp_policy_set(p, "min_confidence=", err, sizeof(err)), BALAI_EINVAL);
    assert_int_equal(balai_dlp_policy_set(p, "", err, sizeof(err)), BALAI_OK);
    balai_dlp_policy_free(p);
}

static void findings_json(void **state)
{
    const struct balai_dlp_result *r = scan("NIK saya 3171010508900001 ya");
    json_t *arr = balai_dlp_findings_json(r), *o;

    assert_int_equal(json_array_size(arr), 1);
    o = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "nik");
    assert_string_equal(json_string_value(json_object_get(o, "category")), "identity");
    assert_string_equal(json_string_value(json_object_get(o, "masked")), "3171********0001");
    assert_int_equal(json_integer_value(json_object_get(o, "offset")), 9);
    assert_int_equal(json_integer_value(json_object_get(o, "length")), 16);
    json_decref(arr);
}

/* Many threads scan with one shared config (with a custom pattern). */
struct worker {
    const struct balai_dlp_config *cfg;
    int ok;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    const char *s = "NIK 3171010508900001 PRJ-4242 budi@x.co.id kartu 4111111111111111";
    struct balai_dlp_result r;

    w->ok = 1;
    for (int i = 0; i < 2000; i++) {
        if (balai_dlp_scan(w->cfg, s, strlen(s), &r) != BALAI_OK || r.n != 4 ||
            r.findings[1].type != BALAI_DLP_CUSTOM)
            w->ok = 0;
    }
    return NULL;
}

static void threads(void **state)
{
    struct balai_dlp_config *c = balai_dlp_config_new();
    char err[BALAI_DLP_ERR_LEN];
    pthread_t th[4];
    struct worker w[4];

    assert_int_equal(balai_dlp_custom_add_regex(c, "project", "PRJ-[0-9]{4}", BALAI_DLP_CAT_OTHER,
                                                err, sizeof(err)),
                     BALAI_OK);
    for (int i = 0; i < 4; i++) {
        w[i].cfg = c;
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].ok);
    }
    balai_dlp_config_free(c);
}

static void names(void **state)
{
    enum balai_dlp_category c;
    enum balai_dlp_action a;

    assert_string_equal(balai_dlp_type_name(BALAI_DLP_NIK), "nik");
    assert_string_equal(balai_dlp_type_name(BALAI_DLP_CUSTOM), "custom");
    assert_string_equal(balai_dlp_category_name(BALAI_DLP_CAT_HEALTH), "health");
    assert_string_equal(balai_dlp_action_name(BALAI_DLP_HOLD), "hold");
    assert_int_equal(balai_dlp_category_parse("Card", 4, &c), BALAI_OK);
    assert_int_equal(c, BALAI_DLP_CAT_CARD);
    assert_int_equal(balai_dlp_action_parse("BLOCK", 5, &a), BALAI_OK);
    assert_int_equal(a, BALAI_DLP_BLOCK);
    assert_int_equal(balai_dlp_action_parse("blocks", 6, &a), BALAI_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(regions),
        cmocka_unit_test(validators),
        cmocka_unit_test(nik_valid),
        cmocka_unit_test(nik_invalid),
        cmocka_unit_test(normalised_forms),
        cmocka_unit_test(kk_vs_nik),
        cmocka_unit_test(npwp),
        cmocka_unit_test(bpjs_and_phone),
        cmocka_unit_test(passport),
        cmocka_unit_test(cards),
        cmocka_unit_test(iban),
        cmocka_unit_test(email),
        cmocka_unit_test(context_words),
        cmocka_unit_test(context_config),
        cmocka_unit_test(ordinary_numbers),
        cmocka_unit_test(bulk),
        cmocka_unit_test(many_findings),
        cmocka_unit_test(custom_regex),
        cmocka_unit_test(custom_keywords),
        cmocka_unit_test(masking),
        cmocka_unit_test(policy_defaults),
        cmocka_unit_test(policy_overrides),
        cmocka_unit_test(findings_json),
        cmocka_unit_test(threads),
        cmocka_unit_test(names),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
