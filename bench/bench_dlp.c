/* bench_dlp.c: DLP scan throughput on ordinary text and latency on a
 * 200-byte message (DESIGN.md §8: >= 500 MB/s per core, <= 5 us / 200 B).
 *
 *   build/bench/bench_dlp [megabytes]
 *
 * Times are this thread's CPU time (the machine is shared, so wall time
 * counts other processes too), best of 5 rounds. Prints a small table;
 * nothing is asserted. */
#include "balai.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gov/dlp/dlp.h"

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Chat-like Indonesian text with the odd number, date and amount. */
static const char *const lines[] = {
    "Selamat pagi semua, rapat koordinasi dipindah ke ruang 3 jam 10.30 ya. ",
    "Tolong kirim laporan bulanan sebelum tanggal 12-03-2024, terima kasih. ",
    "Anggaran proyek Rp 15.000.000 sudah disetujui oleh kepala bagian. ",
    "Pasien di bangsal B sudah dipindahkan, dokter jaga sudah diberi tahu. ",
    "Jangan lupa update dokumen di drive bersama sebelum akhir minggu. ",
    "Meeting with the vendor moved to Thursday, please confirm your slot. ",
    "Stok obat di gudang tinggal 120 unit, mohon segera dipesan ulang. ",
    "Terima kasih atas kerja kerasnya minggu ini, sampai jumpa Senin! ",
};

static void run(const char *label, const struct balai_dlp_config *cfg, const char *text, size_t len,
                int reps)
{
    struct balai_dlp_result r;
    double best = 1e30;

    balai_dlp_scan(cfg, text, len, &r); /* warm up */
    for (int round = 0; round < 5; round++) {
        double t0 = now(), dt;
        for (int i = 0; i < reps; i++)
            balai_dlp_scan(cfg, text, len, &r);
        dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    printf("%-34s %8zu B x %-7d %8.1f MB/s %8.3f us/scan  (%zu findings)\n", label, len, reps,
           (double)len * reps / best / 1e6, best / reps * 1e6, r.n);
}

/* A reference loop (count word starts byte by byte) to show how fast this
 * machine is right now: shared virtual machines vary from run to run. */
static void reference(const char *text, size_t len)
{
    double best = 1e30;
    volatile size_t sink = 0;

    for (int round = 0; round < 5; round++) {
        double t0 = now(), dt;
        size_t words = 0;
        for (int rep = 0; rep < 3; rep++)
            for (size_t i = 1; i < len; i++)
                words += text[i - 1] == ' ' && text[i] != ' ';
        sink += words;
        dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    (void)sink;
    printf("%-34s %8zu B x %-7d %8.1f MB/s\n", "reference: count words", len, 3,
           (double)len * 3 / best / 1e6);
}

int main(int argc, char **argv)
{
    size_t mb = argc > 1 ? (size_t)atoi(argv[1]) : 16, len = 0, cap;
    struct balai_dlp_config *cfg = balai_dlp_config_new();
    struct balai_dlp_config *custom = balai_dlp_config_new();
    char err[BALAI_DLP_ERR_LEN];
    char *big;
    const char *msg200 =
        "Halo tim, untuk klaim rawat jalan pasien atas nama Budi, NIK 3171010508900001, "
        "mohon dicek ke BPJS. Hubungi saya di 0812-3456-7890 atau budi@contoh.co.id. "
        "Terima kasih banyak ya, sampai besok.";
    const char *plain200 =
        "Selamat pagi semua, rapat koordinasi dipindah ke ruang 3 jam 10.30 ya. Tolong "
        "kirim laporan bulanan sebelum tanggal 12-03-2024, terima kasih. Anggaran proyek "
        "sudah disetujui kemarin sore oleh bapak.";

    if (mb == 0)
        mb = 16;
    cap = mb << 20;
    big = malloc(cap + 128);
    while (len < cap) {
        const char *l = lines[(len / 61) % BALAI_ARRAY_LEN(lines)];
        size_t n = strlen(l);
        memcpy(big + len, l, n);
        len += n;
    }
    balai_dlp_custom_add_regex(custom, "project", "PRJ-[0-9]{4}", BALAI_DLP_CAT_OTHER, err,
                               sizeof(err));
    printf("DLP scan (one thread)\n");
    reference(big, len);
    run("ordinary text, built-in", cfg, big, len, 3);
    run("ordinary text, + 1 custom regex", custom, big, len, 3);
    run("200 B plain message", cfg, plain200, strlen(plain200), 200000);
    run("200 B message, 3 identifiers", cfg, msg200, strlen(msg200), 200000);
    run("200 B message, + 1 custom regex", custom, msg200, strlen(msg200), 100000);
    free(big);
    balai_dlp_config_free(cfg);
    balai_dlp_config_free(custom);
    return 0;
}
