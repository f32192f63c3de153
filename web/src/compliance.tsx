// compliance.tsx: the compliance screens of the admin console (lazy admin
// chunk): DLP incidents with filters (GET /dlp/incidents), the queue of
// messages held for review with release and delete (/dlp/held), and the
// reports queue with resolve and dismiss (/reports). Each part is shown to
// the roles that may use it (docs/dlp.md).
import { useEffect, useState } from 'preact/hooks';
import { labelClass } from './chat';
import { t } from './i18n';
import { MatrixError, localpart } from './matrix';
import type { AdminAccess, Store } from './store';

const ADMIN = '/_balai/admin/v1';

interface Finding {
    type?: string;
    name?: string;
    masked?: string;
    field?: string;
}

function errText(e: unknown): string {
    if (e instanceof MatrixError && e.status === 403) return t('error.forbidden');
    return t('error.generic', { msg: (e as Error).message });
}

function roomLabel(store: Store, roomId: string): string {
    const r = store.rooms.get(roomId);
    return r ? store.roomName(r) : roomId;
}

function findingsText(f: Finding[] | undefined): string {
    return (f ?? []).map((x) => `${x.type === 'custom' && x.name ? x.name : x.type ?? '?'}${x.masked ? ` (${x.masked})` : ''}`).join(', ');
}

export function Compliance({ store, access }: { store: Store; access: AdminAccess }) {
    return (
        <>
            {access.incidents && <Incidents store={store} />}
            {access.held && <Held store={store} />}
            {access.reports && <Reports store={store} />}
        </>
    );
}

// ---- DLP incidents ----

interface Incident {
    id: number;
    ts: number;
    room_id: string | null;
    user_id: string;
    label: string;
    action: string;
    outcome: string;
    findings: Finding[];
}

function Incidents({ store }: { store: Store }) {
    const [rows, setRows] = useState<Incident[]>([]);
    const [total, setTotal] = useState(0);
    const [next, setNext] = useState<string | null>(null);
    const [label, setLabel] = useState('');
    const [action, setAction] = useState('');
    const [user, setUser] = useState('');
    const [error, setError] = useState<string | null>(null);

    const load = async (from: string | null) => {
        try {
            const r = await store.client.request<{ incidents: Incident[]; total: number; next?: string }>('GET', `${ADMIN}/dlp/incidents`, undefined, {
                query: { limit: 50, from: from ?? undefined, label: label.trim() || undefined, action: action || undefined, user: user.trim() || undefined },
            });
            setRows(from ? [...rows, ...r.incidents] : r.incidents);
            setTotal(r.total);
            setNext(r.next ?? null);
            setError(null);
        } catch (e) {
            setError(errText(e));
        }
    };
    useEffect(() => {
        void load(null);
    }, [action]);

    return (
        <section class="card" aria-label={t('comp.incidents')}>
            <h2>{t('comp.incidents')}</h2>
            <form
                class="row"
                onSubmit={(e) => {
                    e.preventDefault();
                    void load(null);
                }}
            >
                <select class="input" aria-label={t('comp.action')} value={action} onChange={(e) => setAction((e.target as HTMLSelectElement).value)}>
                    <option value="">{t('comp.any_action')}</option>
                    {['audit', 'warn', 'mask', 'block', 'hold'].map((a) => (
                        <option key={a} value={a}>
                            {a}
                        </option>
                    ))}
                </select>
                <input class="input" placeholder={t('comp.label')} aria-label={t('comp.label')} value={label} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
                <input class="input" placeholder={t('comp.user')} aria-label={t('comp.user')} value={user} onInput={(e) => setUser((e.target as HTMLInputElement).value)} />
                <button class="btn" type="submit">
                    {t('audit.apply')}
                </button>
            </form>
            {error && <p class="error">{error}</p>}
            <p class="muted small">{t('comp.total', { n: total })}</p>
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th scope="col">{t('audit.time')}</th>
                            <th scope="col">{t('comp.user')}</th>
                            <th scope="col">{t('comp.label')}</th>
                            <th scope="col">{t('comp.action')}</th>
                            <th scope="col">{t('comp.outcome')}</th>
                            <th scope="col">{t('comp.findings')}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {rows.map((x) => (
                            <tr key={x.id}>
                                <td>{new Date(x.ts).toLocaleString()}</td>
                                <td>{x.user_id}</td>
                                <td>
                                    <span class={`badge label ${labelClass(x.label)}`}>{x.label}</span>
                                </td>
                                <td>{x.action}</td>
                                <td>{x.outcome}</td>
                                <td>{findingsText(x.findings)}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            </div>
            {next && (
                <button class="btn" onClick={() => load(next)}>
                    {t('audit.more')}
                </button>
            )}
        </section>
    );
}

// ---- held for review ----

interface HeldMsg {
    held_id: string;
    ts: number;
    room_id: string;
    user_id: string;
    label: string;
    findings: Finding[];
}

function Held({ store }: { store: Store }) {
    const [rows, setRows] = useState<HeldMsg[] | null>(null);
    const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
    const [reload, setReload] = useState(0);
    const [busy, setBusy] = useState<string | null>(null);

    useEffect(() => {
        store.client
            .request<{ held: HeldMsg[] }>('GET', `${ADMIN}/dlp/held`)
            .then((r) => setRows(r.held))
            .catch((e) => setStatus({ ok: false, text: errText(e) }));
    }, [reload]);

    const act = async (h: HeldMsg, release: boolean) => {
        setBusy(h.held_id);
        try {
            const path = `${ADMIN}/dlp/held/${encodeURIComponent(h.held_id)}`;
            if (release) await store.client.request('POST', `${path}/release`, {});
            else await store.client.request('DELETE', path);
            setStatus({ ok: true, text: t(release ? 'comp.released' : 'comp.deleted', { user: localpart(h.user_id) }) });
            setReload(reload + 1);
        } catch (e) {
            setStatus({ ok: false, text: errText(e) });
        } finally {
            setBusy(null);
        }
    };

    return (
        <section class="card" aria-label={t('comp.held')}>
            <h2>{t('comp.held')}</h2>
            <p class="muted">{t('comp.held_help')}</p>
            {status && (
                <p class={status.ok ? 'ok' : 'error'} role="status">
                    {status.text}
                </p>
            )}
            {rows && rows.length === 0 && <p class="muted">{t('comp.held_empty')}</p>}
            {rows && rows.length > 0 && (
                <div class="table-wrap">
                    <table class="table">
                        <thead>
                            <tr>
                                <th scope="col">{t('audit.time')}</th>
                                <th scope="col">{t('comp.sender')}</th>
                                <th scope="col">{t('comp.label')}</th>
                                <th scope="col">{t('comp.findings')}</th>
                                <th scope="col">{t('people.actions')}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows.map((h) => (
                                <tr key={h.held_id}>
                                    <td>{new Date(h.ts).toLocaleString()}</td>
                                    <td>
                                        <div>{h.user_id}</div>
                                        <div class="muted small">{roomLabel(store, h.room_id)}</div>
                                    </td>
                                    <td>
                                        <span class={`badge label ${labelClass(h.label)}`}>{h.label}</span>
                                    </td>
                                    <td>{findingsText(h.findings)}</td>
                                    <td class="cell-actions">
                                        <button class="btn small primary" disabled={busy !== null} aria-label={`${t('comp.release')} ${findingsText(h.findings)}`} onClick={() => act(h, true)}>
                                            {t('comp.release')}
                                        </button>
                                        <button class="btn small danger" disabled={busy !== null} aria-label={`${t('comp.delete')} ${findingsText(h.findings)}`} onClick={() => act(h, false)}>
                                            {t('comp.delete')}
                                        </button>
                                    </td>
                                </tr>
                            ))}
                        </tbody>
                    </table>
                </div>
            )}
        </section>
    );
}

// ---- reports ----

interface Report {
    id: number;
    ts: number;
    room_id: string;
    event_id: string;
    reporter: string;
    reason: string | null;
    score: number | null;
    status: string;
    resolved_by: string | null;
    note: string | null;
}

function Reports({ store }: { store: Store }) {
    const [rows, setRows] = useState<Report[] | null>(null);
    const [filter, setFilter] = useState('open');
    const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
    const [reload, setReload] = useState(0);

    useEffect(() => {
        store.client
            .request<{ reports: Report[] }>('GET', `${ADMIN}/reports`, undefined, { query: { status: filter || undefined } })
            .then((r) => setRows(r.reports))
            .catch((e) => setStatus({ ok: false, text: errText(e) }));
    }, [filter, reload]);

    const close = async (r: Report, how: 'resolve' | 'dismiss') => {
        try {
            await store.client.request('POST', `${ADMIN}/reports/${r.id}/${how}`, {});
            setStatus({ ok: true, text: t(how === 'resolve' ? 'comp.resolved' : 'comp.dismissed', { n: r.id }) });
            setReload(reload + 1);
        } catch (e) {
            setStatus({ ok: false, text: errText(e) });
        }
    };

    return (
        <section class="card" aria-label={t('comp.reports')}>
            <h2>{t('comp.reports')}</h2>
            <select class="input" aria-label={t('comp.report_status')} value={filter} onChange={(e) => setFilter((e.target as HTMLSelectElement).value)}>
                <option value="open">{t('comp.open')}</option>
                <option value="resolved">{t('comp.status_resolved')}</option>
                <option value="dismissed">{t('comp.status_dismissed')}</option>
                <option value="">{t('rooms_inv.all')}</option>
            </select>
            {status && (
                <p class={status.ok ? 'ok' : 'error'} role="status">
                    {status.text}
                </p>
            )}
            {rows && rows.length === 0 && <p class="muted">{t('comp.reports_empty')}</p>}
            {rows && rows.length > 0 && (
                <div class="table-wrap">
                    <table class="table">
                        <thead>
                            <tr>
                                <th scope="col">#</th>
                                <th scope="col">{t('audit.time')}</th>
                                <th scope="col">{t('comp.reporter')}</th>
                                <th scope="col">{t('comp.reason')}</th>
                                <th scope="col">{t('comp.where')}</th>
                                <th scope="col">{t('people.status')}</th>
                            </tr>
                        </thead>
                        <tbody>
                            {rows.map((r) => (
                                <tr key={r.id}>
                                    <td>{r.id}</td>
                                    <td>{new Date(r.ts).toLocaleString()}</td>
                                    <td>{r.reporter}</td>
                                    <td>{r.reason ?? ''}</td>
                                    <td>
                                        <div>{roomLabel(store, r.room_id)}</div>
                                        <div class="muted small">{r.event_id}</div>
                                    </td>
                                    <td class="cell-actions">
                                        {r.status === 'open' ? (
                                            <>
                                                <button class="btn small primary" aria-label={`${t('comp.resolve')} #${r.id}`} onClick={() => close(r, 'resolve')}>
                                                    {t('comp.resolve')}
                                                </button>
                                                <button class="btn small" aria-label={`${t('comp.dismiss')} #${r.id}`} onClick={() => close(r, 'dismiss')}>
                                                    {t('comp.dismiss')}
                                                </button>
                                            </>
                                        ) : (
                                            <span>
                                                {r.status}
                                                {r.resolved_by && <span class="muted small"> · {r.resolved_by}</span>}
                                            </span>
                                        )}
                                    </td>
                                </tr>
                            ))}
                        </tbody>
                    </table>
                </div>
            )}
        </section>
    );
}
