/* test_dlp_corpus.c: the DLP engine (gov/dlp) on a labelled corpus of
 * realistic Indonesian chat lines: true positives (NIK, KK, NPWP, BPJS,
 * cards, IBAN, passport, context words, phones and e-mail, bulk; split,
 * full-width and zero-width-broken digits) and hard negatives (invoice and
 * order numbers, dates, amounts, NIK-shaped numbers with impossible dates or
 * unknown provinces, 16-digit numbers failing Luhn, numbers split across
 * lines). Each line has the set of finding types expected and the action
 * expected under the `internal` label with the default policy. Prints
 * per-type precision and recall and fails below the floor or on any
 * action mismatch (a hard negative that would warn or block is a bug). */
#include "balai.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gov/dlp/dlp.h"

struct row {
    const char *types; /* comma-separated type names, "-" for none */
    enum balai_dlp_action action;
    const char *text;
};

/* clang-format off */
static const struct row corpus[] = {
    {"nik", BALAI_DLP_WARN, "tolong cek NIK pasien 3171014508900001 ya"},
    {"nik", BALAI_DLP_WARN, "NIK saya 3273012302850003, mohon dibantu"},
    {"nik", BALAI_DLP_WARN, "ktp bapaknya 3578106105920002 sudah difoto"},
    {"nik", BALAI_DLP_WARN, "pasien a.n. Rina, nik 1271035506880007, kontrol minggu depan"},
    {"nik", BALAI_DLP_WARN, "data pendaftar: 7371121011990005"},
    {"nik", BALAI_DLP_WARN, "mohon verifikasi KTP 5171034107010003 sebelum jam 3"},
    {"nik", BALAI_DLP_WARN, "nomor induk kependudukan 3404076203000009"},
    {"nik", BALAI_DLP_WARN, "NIK: 3171 0145 0890 0001"},
    {"nik", BALAI_DLP_WARN, "nik 31.71.01-450890-0001 tolong diinput"},
    {"nik", BALAI_DLP_WARN, "KTP \xef""\xbc""\x93""\xef""\xbc""\x91""\xef""\xbc""\x97""\xef""\xbc""\x91""\xef""\xbc""\x90""\xef""\xbc""\x91""\xef""\xbc""\x94""\xef""\xbc""\x95""\xef""\xbc""\x90""\xef""\xbc""\x98""\xef""\xbc""\x99""\xef""\xbc""\x90""\xef""\xbc""\x90""\xef""\xbc""\x90""\xef""\xbc""\x90""\xef""\xbc""\x91"" sudah saya kirim"},
    {"nik", BALAI_DLP_WARN, "cek nik 3171\xe2""\x80""\x8b""0145\xe2""\x80""\x8b""0890\xe2""\x80""\x8b""0001"},
    {"nik", BALAI_DLP_WARN, "3273-0123-0285-0003 itu NIK siapa?"},
    {"kk", BALAI_DLP_WARN, "no KK 3273010203150002 untuk BPJS anaknya"},
    {"kk", BALAI_DLP_WARN, "kartu keluarga nomor 3171010101100003"},
    {"npwp", BALAI_DLP_WARN, "NPWP kantor 01.234.567.4-012.000"},
    {"npwp", BALAI_DLP_WARN, "npwp pribadi saya 098765431407000 ya bu"},
    {"bpjs", BALAI_DLP_WARN, "kartu BPJS pasien 0001437852216 aktif"},
    {"bpjs", BALAI_DLP_WARN, "no bpjs 0002345678901 tolong dicek faskesnya"},
    {"card", BALAI_DLP_WARN, "kartu kredit 4111 1111 1111 1111 exp 12/27"},
    {"card", BALAI_DLP_WARN, "pakai visa 4111111111111111 aja"},
    {"card", BALAI_DLP_WARN, "mastercard 5500 0000 0000 0004 ditolak"},
    {"card", BALAI_DLP_WARN, "cc amex 378282246310005"},
    {"iban", BALAI_DLP_WARN, "transfer ke IBAN DE89 3704 0044 0532 0130 00"},
    {"iban,context", BALAI_DLP_WARN, "rekening luar negeri GB82WEST12345698765432"},
    {"passport", BALAI_DLP_WARN, "paspor saya B1234567 berlaku sampai 2030"},
    {"context", BALAI_DLP_WARN, "nama ibu kandung: Siti Aminah"},
    {"context", BALAI_DLP_WARN, "gaji bulan ini Rp 8.500.000 sudah masuk ke rekening BCA 1234567890"},
    {"context", BALAI_DLP_WARN, "diagnosa pasien kamar 12: DM tipe 2"},
    {"context", BALAI_DLP_WARN, "tolong ambil rekam medis pasien bed 4"},
    {"context", BALAI_DLP_WARN, "no. RM 00123456 dipindah ke poli"},
    {"context", BALAI_DLP_WARN, "gajinya dipotong? cek slip gaji"},
    {"phone", BALAI_DLP_AUDIT, "hubungi saya di 0812-3456-7890"},
    {"phone", BALAI_DLP_AUDIT, "wa ke +62 812 3456 7890 ya"},
    {"phone", BALAI_DLP_AUDIT, "nomor kurir 081298765432"},
    {"email", BALAI_DLP_AUDIT, "kirim ke budi.santoso@rs-harapan.co.id"},
    {"email,phone", BALAI_DLP_AUDIT, "kontak: dewi@example.co.id / 0813 1111 2222"},
    {"nik,bulk", BALAI_DLP_BLOCK, "daftar: 3171014508900001, 3273012302850003, 3578106105920002, 1271035506880007, 7371121011990005"},
    {"nik,phone", BALAI_DLP_WARN, "NIK 3171014508900001 hp 081234567890"},
    {"nik,card", BALAI_DLP_WARN, "NIK 3273012302850003 dan kartu kredit 5500000000000004"},
    {"-", BALAI_DLP_ALLOW, "INV/2026/11/000123 sudah dibayar"},
    {"-", BALAI_DLP_ALLOW, "order #SO-2026-000451 sudah dikirim"},
    {"-", BALAI_DLP_ALLOW, "rapat tanggal 25-11-2026 jam 10.00 di ruang 3"},
    {"-", BALAI_DLP_ALLOW, "total tagihan Rp 15.000.000 ya"},
    {"-", BALAI_DLP_ALLOW, "harga 1.250.000.000 untuk gedung baru"},
    {"-", BALAI_DLP_ALLOW, "nomor antrian 0012 dipanggil"},
    {"-", BALAI_DLP_ALLOW, "resi JNE 0123456789012 belum bergerak"},
    {"-", BALAI_DLP_ALLOW, "kode pos 40115 Bandung"},
    {"-", BALAI_DLP_ALLOW, "ext 2345 atau 2346"},
    {"-", BALAI_DLP_ALLOW, "kamar 301 lantai 3, bed 12"},
    {"-", BALAI_DLP_ALLOW, "kartu 4111 1111 1111 1112 ditolak mesin"},
    {"-", BALAI_DLP_ALLOW, "nomor 4111111111111112 salah ketik"},
    {"-", BALAI_DLP_ALLOW, "3171013213900001 itu kode barang"},
    {"-", BALAI_DLP_ALLOW, "nomor 3171011513900001 dari vendor"},
    {"-", BALAI_DLP_ALLOW, "kode 2971014508900001 di gudang"},
    {"-", BALAI_DLP_ALLOW, "3171013002900001 barcode lama"},
    {"-", BALAI_DLP_ALLOW, "3171012902910001 nomor seri mesin"},
    {"-", BALAI_DLP_ALLOW, "3171014508900000 nomor aset"},
    {"-", BALAI_DLP_ALLOW, "nomornya 3171014\n508900001 kepotong"},
    {"-", BALAI_DLP_ALLOW, "batch 20261125 selesai 100%"},
    {"-", BALAI_DLP_ALLOW, "versi 2.14.3 sudah rilis"},
    {"-", BALAI_DLP_ALLOW, "meeting id 845 2231 9902"},
    {"-", BALAI_DLP_ALLOW, "SKU 8991002101234 stok habis"},
    {"-", BALAI_DLP_ALLOW, "jam 08.15 - 16.00 shift pagi"},
    {"-", BALAI_DLP_ALLOW, "saldo 1234567890123456789012 bukan angka sungguhan"},
    {"-", BALAI_DLP_ALLOW, "tahun 2024 2025 2026 target naik"},
    {"-", BALAI_DLP_ALLOW, "ok siap, nanti saya kabari"},
    {"-", BALAI_DLP_ALLOW, "nomor surat 123/RS-H/XI/2026"},
    {"-", BALAI_DLP_ALLOW, "lot 3171-2026-0001 kadaluarsa"},
};
/* clang-format on */

#define PRECISION_FLOOR 0.95
#define RECALL_FLOOR 0.90

static int expects(const char *types, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = types; (p = strstr(p, name)) != NULL; p += n) {
        if ((p == types || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
            return 1;
    }
    return 0;
}

static void test_corpus(void **state)
{
    struct balai_dlp_config *cfg = balai_dlp_config_new();
    struct balai_dlp_policy *pol = balai_dlp_policy_new();
    static struct balai_dlp_result r;
    unsigned tp[BALAI_DLP_NTYPES] = {0}, fp[BALAI_DLP_NTYPES] = {0}, fn[BALAI_DLP_NTYPES] = {0};
    unsigned ttp = 0, tfp = 0, tfn = 0, bad_action = 0;
    (void)state;

    assert_non_null(cfg);
    assert_true(BALAI_ARRAY_LEN(corpus) >= 60);
    for (size_t i = 0; i < BALAI_ARRAY_LEN(corpus); i++) {
        const struct row *c = &corpus[i];
        int seen[BALAI_DLP_NTYPES] = {0};
        assert_int_equal(balai_dlp_scan(cfg, c->text, strlen(c->text), &r), BALAI_OK);
        for (size_t j = 0; j < r.n; j++)
            seen[r.findings[j].type] = 1;
        for (int t = 0; t < BALAI_DLP_NTYPES; t++) {
            int want = expects(c->types, balai_dlp_type_name((enum balai_dlp_type)t));
            if (want && seen[t])
                tp[t]++;
            else if (seen[t])
                fp[t]++;
            else if (want)
                fn[t]++;
            if (want != seen[t])
                printf("  line %zu: %s %s: %s\n", i + 1, want ? "MISSED" : "FALSE",
                       balai_dlp_type_name((enum balai_dlp_type)t), c->text);
        }
        enum balai_dlp_action a = balai_dlp_policy_decide(pol, "internal", &r);
        if (a != c->action) {
            printf("  line %zu: action %s, expected %s: %s\n", i + 1, balai_dlp_action_name(a),
                   balai_dlp_action_name(c->action), c->text);
            bad_action++;
        }
    }
    printf("  %-9s %4s %4s %4s %9s %7s\n", "type", "tp", "fp", "fn", "precision", "recall");
    for (int t = 0; t < BALAI_DLP_NTYPES; t++) {
        ttp += tp[t];
        tfp += fp[t];
        tfn += fn[t];
        if (!tp[t] && !fp[t] && !fn[t])
            continue;
        printf("  %-9s %4u %4u %4u %9.3f %7.3f\n", balai_dlp_type_name((enum balai_dlp_type)t),
               tp[t], fp[t], fn[t], tp[t] + fp[t] ? (double)tp[t] / (tp[t] + fp[t]) : 1.0,
               tp[t] + fn[t] ? (double)tp[t] / (tp[t] + fn[t]) : 1.0);
    }
    double precision = (double)ttp / (ttp + tfp), recall = (double)ttp / (ttp + tfn);
    printf("  %zu lines: precision %.3f, recall %.3f, %u action mismatches\n",
           BALAI_ARRAY_LEN(corpus), precision, recall, bad_action);
    assert_true(precision >= PRECISION_FLOOR);
    assert_true(recall >= RECALL_FLOOR);
    assert_int_equal(bad_action, 0);
    balai_dlp_policy_free(pol);
    balai_dlp_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
