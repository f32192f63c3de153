/* dlp_valid.c: checksum and structure validators for the DLP detectors, and
 * the Indonesian region code table that NIK and KK numbers start with.
 *
 * The region table is our own compact summary of the Kemendagri (Ministry of
 * Home Affairs) province and regency codes that Dukcapil uses in NIKs: per
 * province, the highest kabupaten code (01..n) and the highest kota code
 * (71..m). Ranges include codes that were valid before a region was split
 * (older NIKs keep them): Kalimantan Timur keeps 6401-6411 and 6471-6474
 * after Kalimantan Utara (65) took Malinau, Bulungan, Nunukan, Tana Tidung
 * and Tarakan; Sulawesi Selatan keeps 7301-7326 after Sulawesi Barat (76);
 * Papua (91) keeps 9101-9128 and Papua Barat (92) keeps 9201-9212 after the
 * 2022 provinces 93 Papua Selatan, 94 Papua Tengah, 95 Papua Pegunungan and
 * 96 Papua Barat Daya were formed from them. Counts were checked against the
 * per-province totals of Permendagri 72/2019. A range may admit a code never
 * assigned (a gap left by a move); that only widens NIK detection slightly. */
#include "balai.h"

#include <string.h>

#include "gov/dlp/dlp_internal.h"

struct region {
    uint8_t kab;  /* kabupaten codes 01..kab */
    uint8_t kota; /* kota codes 71..70+kota */
};

static const struct region regions[100] = {
    [11] = {18, 5}, /* Aceh */
    [12] = {25, 8}, /* Sumatera Utara */
    [13] = {12, 7}, /* Sumatera Barat */
    [14] = {10, 3}, /* Riau (1472 was Batam before Kepulauan Riau) */
    [15] = {9, 2},  /* Jambi */
    [16] = {13, 4}, /* Sumatera Selatan */
    [17] = {9, 1},  /* Bengkulu */
    [18] = {13, 2}, /* Lampung */
    [19] = {6, 1},  /* Kepulauan Bangka Belitung */
    [21] = {5, 2},  /* Kepulauan Riau */
    [31] = {1, 5},  /* DKI Jakarta */
    [32] = {18, 9}, /* Jawa Barat */
    [33] = {29, 6}, /* Jawa Tengah */
    [34] = {4, 1},  /* DI Yogyakarta */
    [35] = {29, 9}, /* Jawa Timur */
    [36] = {4, 4},  /* Banten */
    [51] = {8, 1},  /* Bali */
    [52] = {8, 2},  /* Nusa Tenggara Barat */
    [53] = {21, 1}, /* Nusa Tenggara Timur */
    [61] = {12, 2}, /* Kalimantan Barat */
    [62] = {13, 1}, /* Kalimantan Tengah */
    [63] = {11, 2}, /* Kalimantan Selatan */
    [64] = {11, 4}, /* Kalimantan Timur (with the codes moved to 65) */
    [65] = {4, 1},  /* Kalimantan Utara */
    [71] = {11, 4}, /* Sulawesi Utara */
    [72] = {12, 1}, /* Sulawesi Tengah */
    [73] = {26, 3}, /* Sulawesi Selatan (with the codes moved to 76) */
    [74] = {15, 2}, /* Sulawesi Tenggara */
    [75] = {5, 1},  /* Gorontalo */
    [76] = {6, 0},  /* Sulawesi Barat */
    [81] = {9, 2},  /* Maluku */
    [82] = {8, 2},  /* Maluku Utara */
    [91] = {28, 1}, /* Papua (with the codes moved to 93, 94, 95) */
    [92] = {12, 1}, /* Papua Barat (with the codes moved to 96) */
    [93] = {4, 0},  /* Papua Selatan */
    [94] = {8, 0},  /* Papua Tengah */
    [95] = {8, 0},  /* Papua Pegunungan */
    [96] = {5, 1},  /* Papua Barat Daya */
};

static int two(const char *d)
{
    return (d[0] - '0') * 10 + (d[1] - '0');
}

bool balai__dlp_region_valid(int province, int regency)
{
    const struct region *r;

    if (province < 0 || province > 99 || regency < 1 || regency > 99)
        return false;
    r = &regions[province];
    if (r->kab == 0 && r->kota == 0)
        return false;
    if (regency <= r->kab)
        return true;
    return regency >= 71 && regency <= 70 + r->kota;
}

static bool date_valid(int day, int month, int yy)
{
    static const uint8_t mdays[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (month < 1 || month > 12 || day < 1 || day > mdays[month])
        return false;
    /* YY % 4 == 0 is a leap year in 19YY and 20YY alike (2000 was one). */
    if (month == 2 && day == 29 && yy % 4 != 0)
        return false;
    return true;
}

/* The parts NIK and KK share: region, district, serial. */
static bool region_part_valid(const char *d)
{
    if (!balai__dlp_region_valid(two(d), two(d + 2)))
        return false;
    if (two(d + 4) == 0)
        return false;
    return memcmp(d + 12, "0000", 4) != 0;
}

bool balai__dlp_nik_valid(const char *d)
{
    int day = two(d + 6);

    if (!region_part_valid(d))
        return false;
    if (day > 40)
        day -= 40;
    return date_valid(day, two(d + 8), two(d + 10));
}

bool balai__dlp_kk_valid(const char *d)
{
    return region_part_valid(d) && date_valid(two(d + 6), two(d + 8), two(d + 10));
}

bool balai__dlp_luhn(const char *d, size_t n)
{
    unsigned sum = 0;
    bool dbl = false;

    for (size_t i = n; i-- > 0;) {
        unsigned v = (unsigned)(d[i] - '0');
        if (dbl) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

bool balai__dlp_npwp15_valid(const char *d)
{
    if (memcmp(d, "000000000", 9) == 0)
        return false;
    return balai__dlp_luhn(d, 9);
}

static int prefix(const char *d, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (d[i] - '0');
    return v;
}

const char *balai__dlp_card_brand(const char *d, size_t n)
{
    const char *brand = NULL;
    int p2 = prefix(d, 2), p3 = prefix(d, 3), p4 = prefix(d, 4);
    bool long_ok = n >= 16 && n <= 19;

    if (n < 13 || n > 19)
        return NULL;
    if (d[0] == '4' && (n == 13 || n == 16 || n == 19))
        brand = "Visa";
    else if (((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) && n == 16)
        brand = "Mastercard";
    else if ((p2 == 34 || p2 == 37) && n == 15)
        brand = "Amex";
    else if (p4 >= 3528 && p4 <= 3589 && long_ok)
        brand = "JCB";
    else if (p2 == 62 && long_ok)
        brand = "UnionPay";
    else if ((p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649)) && long_ok)
        brand = "Discover";
    else if (p4 == 9360 && long_ok)
        brand = "GPN";
    if (brand && !balai__dlp_luhn(d, n))
        return NULL;
    return brand;
}

bool balai__dlp_iban_valid(const char *s, size_t n)
{
    unsigned rem = 0;

    if (n < 15 || n > 34)
        return false;
    /* The first four characters move to the end; letters count 10..35. */
    for (size_t k = 0; k < n; k++) {
        char c = s[(k + 4) % n];
        if (c >= '0' && c <= '9')
            rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else if (c >= 'A' && c <= 'Z')
            rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else
            return false;
    }
    return rem == 1;
}
