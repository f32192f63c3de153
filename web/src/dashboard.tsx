// dashboard.tsx: the admin dashboard (part of the lazy admin chunk): messages
// per day, active users per day and DLP incidents per week, drawn with uPlot
// from GET /_balai/admin/v1/stats?days=N, with the totals as text. Each chart
// carries a text summary for screen readers.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { t } from './i18n';
import { MatrixError } from './matrix';
import type { Store } from './store';

interface Stats {
    days: number;
    since: number;
    messages_per_day: { day: string; ts: number; messages: number; active_users: number }[];
    dlp_incidents_per_week: { week: string; ts: number; incidents: number }[];
    totals: { users: number; rooms: number; messages: number; active_users: number; dlp_incidents: number };
}

const HEIGHT = 180;
// whole numbers only on the count axis
const INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

function Chart({ title, xs, ys, color, bars, summary }: { title: string; xs: number[]; ys: number[]; color: string; bars: boolean; summary: string }) {
    const ref = useRef<HTMLDivElement>(null);
    useEffect(() => {
        const el = ref.current;
        if (!el) return;
        const width = () => Math.max(260, el.clientWidth || 600);
        // half a step of room on each side, so the first and last bars show whole
        const half = (xs.length > 1 ? xs[1] - xs[0] : 86400000) / 2000;
        const opts: uPlot.Options = {
            width: width(),
            height: HEIGHT,
            legend: { show: false },
            cursor: { drag: { x: false, y: false }, points: { show: false } },
            tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
            scales: { x: { time: true, range: (_u, min, max) => [min - half, max + half] }, y: { range: (_u, _min, max) => [0, Math.max(4, max * 1.15)] } },
            axes: [{ stroke: '#5b6770' }, { stroke: '#5b6770', incrs: INCRS, size: 44 }],
            series: [
                {},
                {
                    label: title,
                    stroke: color,
                    fill: `${color}66`,
                    width: bars ? 1 : 2,
                    paths: bars ? uPlot.paths.bars!({ size: [0.7, 48], align: 0 }) : undefined,
                    points: { show: !bars, size: 5 },
                },
            ],
        };
        const u = new uPlot(opts, [xs.map((x) => x / 1000), ys], el);
        const ro = new ResizeObserver(() => u.setSize({ width: width(), height: HEIGHT }));
        ro.observe(el);
        return () => {
            ro.disconnect();
            u.destroy();
        };
    }, [xs, ys]);
    return (
        <figure class="chart">
            <figcaption>{title}</figcaption>
            <div ref={ref} class="chart-plot" role="img" aria-label={`${title}. ${summary}`} />
        </figure>
    );
}

function peak(values: number[]): number {
    return values.reduce((a, b) => Math.max(a, b), 0);
}

export function Dashboard({ store }: { store: Store }) {
    const [days, setDays] = useState(30);
    const [stats, setStats] = useState<Stats | null>(null);
    const [error, setError] = useState<string | null>(null);
    const [reload, setReload] = useState(0);

    useEffect(() => {
        store.client
            .request<Stats>('GET', '/_balai/admin/v1/stats', undefined, { query: { days } })
            .then((s) => {
                setStats(s);
                setError(null);
            })
            .catch((e) => setError(e instanceof MatrixError && e.status === 403 ? t('error.forbidden') : t('error.generic', { msg: (e as Error).message })));
    }, [days, reload]);

    const d = stats?.messages_per_day ?? [];
    const w = stats?.dlp_incidents_per_week ?? [];
    const xs = d.map((x) => x.ts);
    const msgs = d.map((x) => x.messages);
    const users = d.map((x) => x.active_users);
    return (
        <section class="card" aria-label={t('admin.dashboard')}>
            <h2>{t('admin.dashboard')}</h2>
            <div class="row">
                <label>
                    <span class="visually-hidden">{t('dash.period')}</span>
                    <select class="input" aria-label={t('dash.period')} value={String(days)} onChange={(e) => setDays(Number((e.target as HTMLSelectElement).value))}>
                        {[7, 30, 90].map((n) => (
                            <option key={n} value={String(n)}>
                                {t('dash.last_days', { n })}
                            </option>
                        ))}
                    </select>
                </label>
                <button class="btn" onClick={() => setReload(reload + 1)}>
                    {t('dash.refresh')}
                </button>
            </div>
            {error && <p class="error">{error}</p>}
            {stats && (
                <>
                    <dl class="totals">
                        <div>
                            <dt>{t('dash.messages')}</dt>
                            <dd>{stats.totals.messages}</dd>
                        </div>
                        <div>
                            <dt>{t('dash.peak_users')}</dt>
                            <dd>{stats.totals.active_users}</dd>
                        </div>
                        <div>
                            <dt>{t('dash.incidents')}</dt>
                            <dd>{stats.totals.dlp_incidents}</dd>
                        </div>
                        <div>
                            <dt>{t('dash.users')}</dt>
                            <dd>{stats.totals.users}</dd>
                        </div>
                        <div>
                            <dt>{t('dash.rooms')}</dt>
                            <dd>{stats.totals.rooms}</dd>
                        </div>
                    </dl>
                    <div class="charts">
                        <Chart
                            title={t('dash.messages_per_day')}
                            xs={xs}
                            ys={msgs}
                            color="#0f5f5c"
                            bars
                            summary={t('dash.summary', { total: stats.totals.messages, peak: peak(msgs) })}
                        />
                        <Chart
                            title={t('dash.active_users')}
                            xs={xs}
                            ys={users}
                            color="#2f6fb3"
                            bars={false}
                            summary={t('dash.summary_users', { peak: peak(users) })}
                        />
                        <Chart
                            title={t('dash.incidents_per_week')}
                            xs={w.map((x) => x.ts)}
                            ys={w.map((x) => x.incidents)}
                            color="#b3412f"
                            bars
                            summary={t('dash.summary', { total: stats.totals.dlp_incidents, peak: peak(w.map((x) => x.incidents)) })}
                        />
                    </div>
                </>
            )}
        </section>
    );
}
