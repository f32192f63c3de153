// admin.tsx: the admin console (a separate chunk). Each section is shown to
// the org roles that may use it (docs/directory.md, roles table): People
// (the directory, CSV import with a dry run) and the audit trail viewer.
import { useEffect, useState } from 'preact/hooks';
import { t } from './i18n';
import { MatrixError, localpart } from './matrix';
import { linkClick } from './router';
import type { Store } from './store';

const ADMIN = '/_balai/admin/v1';

interface PersonRec {
    user_id: string;
    role: string;
    status: string;
    guest: boolean;
    deactivated: boolean;
    display_name: string | null;
    profile_displayname: string | null;
    unit_path: string | null;
    title: string | null;
}

export function Admin({ store, section }: { store: Store; section?: string }) {
    const a = store.admin;
    if (!a) return <p class="muted pad">{t('app.loading')}</p>;
    const sections = [
        a.people && { id: 'people', label: t('admin.people') },
        a.audit && { id: 'audit', label: t('admin.audit') },
    ].filter(Boolean) as { id: string; label: string }[];
    if (sections.length === 0) return <p class="pad">{t('admin.none')}</p>;
    const active = sections.find((s) => s.id === section) ?? sections[0];
    return (
        <div class="admin">
            <nav class="admin-nav" aria-label={t('admin.title')}>
                <h1>{t('admin.title')}</h1>
                <ul>
                    {sections.map((s) => (
                        <li key={s.id}>
                            <a
                                href={`/admin/${s.id}`}
                                class={`nav-link${s.id === active.id ? ' active' : ''}`}
                                aria-current={s.id === active.id ? 'page' : undefined}
                                onClick={(e) => linkClick(e as unknown as MouseEvent, `/admin/${s.id}`)}
                            >
                                {s.label}
                            </a>
                        </li>
                    ))}
                </ul>
            </nav>
            <div class="admin-body">
                {active.id === 'people' && <People store={store} canImport={a.import} />}
                {active.id === 'audit' && <Audit store={store} />}
            </div>
        </div>
    );
}

function errText(e: unknown): string {
    if (e instanceof MatrixError && e.status === 403) return t('error.forbidden');
    return t('error.generic', { msg: (e as Error).message });
}

// ---- People ----

function People({ store, canImport }: { store: Store; canImport: boolean }) {
    const [q, setQ] = useState('');
    const [people, setPeople] = useState<PersonRec[]>([]);
    const [total, setTotal] = useState(0);
    const [next, setNext] = useState<string | null>(null);
    const [error, setError] = useState<string | null>(null);
    const [reload, setReload] = useState(0);

    const load = async (from: string | null, append: boolean) => {
        try {
            const r = await store.client.request<{ users: PersonRec[]; total: number; next_from?: string }>('GET', `${ADMIN}/directory/users`, undefined, {
                query: { q: q.trim() || undefined, limit: 100, from: from ?? undefined },
            });
            setPeople(append ? [...people, ...r.users] : r.users);
            setTotal(r.total);
            setNext(r.next_from ?? null);
            setError(null);
        } catch (e) {
            setError(errText(e));
        }
    };
    useEffect(() => {
        const timer = setTimeout(() => void load(null, false), 200);
        return () => clearTimeout(timer);
    }, [q, reload]);

    return (
        <section class="card" aria-label={t('admin.people')}>
            <h2>{t('admin.people')}</h2>
            {canImport && <Import store={store} onApplied={() => setReload(reload + 1)} />}
            <input
                class="input"
                type="search"
                placeholder={t('people.search')}
                aria-label={t('people.search')}
                value={q}
                onInput={(e) => setQ((e.target as HTMLInputElement).value)}
            />
            {error && <p class="error">{error}</p>}
            <p class="muted small">{t('people.total', { n: total })}</p>
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th scope="col">{t('people.name')}</th>
                            <th scope="col">{t('people.unit')}</th>
                            <th scope="col">{t('people.title')}</th>
                            <th scope="col">{t('people.role')}</th>
                            <th scope="col">{t('people.status')}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {people.map((p) => (
                            <tr key={p.user_id} class={p.deactivated ? 'inactive' : ''}>
                                <td>
                                    <div>{p.display_name ?? p.profile_displayname ?? localpart(p.user_id)}</div>
                                    <div class="muted small">{p.user_id}</div>
                                </td>
                                <td>{p.unit_path ?? ''}</td>
                                <td>{p.title ?? ''}</td>
                                <td>{p.role}</td>
                                <td>
                                    {p.status}
                                    {p.guest && <span class="badge">{t('people.guest')}</span>}
                                    {p.deactivated && <span class="badge label-high">{t('people.deactivated')}</span>}
                                </td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            </div>
            {next && (
                <button class="btn" onClick={() => load(next, true)}>
                    {t('people.more')}
                </button>
            )}
        </section>
    );
}

interface ImportResult {
    dry_run: boolean;
    applied: boolean;
    added: { line: number; user_id: string; attributes: Record<string, unknown> }[];
    changed: { line: number; user_id: string; changes: Record<string, { old: unknown; new: unknown }> }[];
    deactivated: string[];
    missing: string[];
    units_created: { unit_id: string; path: string }[];
    unchanged: number;
}

function show(v: unknown): string {
    if (v === null || v === undefined || v === '') return '—';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

function Import({ store, onApplied }: { store: Store; onApplied: () => void }) {
    const [csv, setCsv] = useState<string | null>(null);
    const [fileName, setFileName] = useState('');
    const [deactivate, setDeactivate] = useState(false);
    const [plan, setPlan] = useState<ImportResult | null>(null);
    const [errors, setErrors] = useState<{ line: number; error: string }[] | null>(null);
    const [error, setError] = useState<string | null>(null);
    const [busy, setBusy] = useState(false);
    const [done, setDone] = useState(false);

    const run = async (dryRun: boolean) => {
        if (csv === null) return;
        setBusy(true);
        setError(null);
        setErrors(null);
        try {
            const r = await store.client.request<ImportResult>('POST', `${ADMIN}/directory/import`, undefined, {
                query: { dry_run: dryRun ? 'true' : undefined, deactivate_missing: deactivate ? 'true' : undefined },
                rawBody: csv,
                contentType: 'text/csv',
            });
            if (dryRun) setPlan(r);
            else {
                setPlan(null);
                setDone(true);
                onApplied();
            }
        } catch (e) {
            if (e instanceof MatrixError && Array.isArray(e.data.errors)) setErrors(e.data.errors);
            else setError(errText(e));
            setPlan(null);
        } finally {
            setBusy(false);
        }
    };

    const nothing = plan && !plan.added.length && !plan.changed.length && !plan.deactivated.length && !plan.units_created.length;

    return (
        <details class="import">
            <summary>{t('people.import')}</summary>
            <p class="muted">{t('people.import_help')}</p>
            <label class="field">
                <span>{t('people.import_file')}</span>
                <input
                    type="file"
                    accept=".csv,text/csv"
                    onChange={async (e) => {
                        const f = (e.target as HTMLInputElement).files?.[0];
                        setPlan(null);
                        setDone(false);
                        setErrors(null);
                        if (!f) return setCsv(null);
                        setFileName(f.name);
                        setCsv(await f.text());
                    }}
                />
            </label>
            <label class="check">
                <input type="checkbox" checked={deactivate} onChange={(e) => setDeactivate((e.target as HTMLInputElement).checked)} />{' '}
                {t('people.deactivate_missing')}
            </label>
            <div class="row">
                <button class="btn" disabled={csv === null || busy} onClick={() => run(true)}>
                    {t('people.preview')}
                    {fileName && ` (${fileName})`}
                </button>
                {plan && !nothing && (
                    <button class="btn primary" disabled={busy} onClick={() => run(false)}>
                        {t('people.apply')}
                    </button>
                )}
            </div>
            {done && (
                <p class="ok" role="status">
                    {t('people.applied')}
                </p>
            )}
            {error && <p class="error">{error}</p>}
            {errors && (
                <div class="error" role="alert">
                    <p>{t('people.errors')}</p>
                    <ul>
                        {errors.map((x) => (
                            <li key={x.line}>
                                {t('people.line', { n: x.line })}: {x.error}
                            </li>
                        ))}
                    </ul>
                </div>
            )}
            {plan && (
                <div class="diff" aria-live="polite">
                    {nothing && <p>{t('people.nothing')}</p>}
                    {plan.added.length > 0 && (
                        <>
                            <h3>{t('people.added', { n: plan.added.length })}</h3>
                            <ul>
                                {plan.added.map((a) => (
                                    <li key={a.user_id}>
                                        <strong>{a.user_id}</strong>{' '}
                                        <span class="muted">
                                            {Object.entries(a.attributes)
                                                .map(([k, v]) => `${k}: ${show((v as any)?.new ?? v)}`)
                                                .join(' · ')}
                                        </span>
                                    </li>
                                ))}
                            </ul>
                        </>
                    )}
                    {plan.changed.length > 0 && (
                        <>
                            <h3>{t('people.changed', { n: plan.changed.length })}</h3>
                            <ul>
                                {plan.changed.map((c) => (
                                    <li key={c.user_id}>
                                        <strong>{c.user_id}</strong>
                                        <ul>
                                            {Object.entries(c.changes).map(([k, v]) => (
                                                <li key={k}>
                                                    {k}: <del>{show(v.old)}</del> → <ins>{show(v.new)}</ins>
                                                </li>
                                            ))}
                                        </ul>
                                    </li>
                                ))}
                            </ul>
                        </>
                    )}
                    {plan.units_created.length > 0 && (
                        <>
                            <h3>{t('people.units_created', { n: plan.units_created.length })}</h3>
                            <ul>
                                {plan.units_created.map((u) => (
                                    <li key={u.unit_id}>{u.path}</li>
                                ))}
                            </ul>
                        </>
                    )}
                    {plan.deactivated.length > 0 && (
                        <>
                            <h3>{t('people.to_deactivate', { n: plan.deactivated.length })}</h3>
                            <ul>
                                {plan.deactivated.map((u) => (
                                    <li key={u}>{u}</li>
                                ))}
                            </ul>
                        </>
                    )}
                    {plan.missing.length > 0 && (
                        <>
                            <h3>{t('people.missing', { n: plan.missing.length })}</h3>
                            <ul>
                                {plan.missing.map((u) => (
                                    <li key={u}>{u}</li>
                                ))}
                            </ul>
                        </>
                    )}
                    <p class="muted small">{t('people.unchanged', { n: plan.unchanged })}</p>
                </div>
            )}
        </details>
    );
}

// ---- Audit ----

interface AuditEntry {
    seq: number;
    ts: number;
    actor: string;
    action: string;
    target?: string;
    detail?: Record<string, unknown>;
}

function Audit({ store }: { store: Store }) {
    const [entries, setEntries] = useState<AuditEntry[]>([]);
    const [next, setNext] = useState<string | null>(null);
    const [action, setAction] = useState('');
    const [actor, setActor] = useState('');
    const [verify, setVerify] = useState<{ ok: boolean; entries: number; first_bad: { seq: number; reason: string } | null } | null>(null);
    const [error, setError] = useState<string | null>(null);

    const load = async (from: string | null) => {
        try {
            const r = await store.client.request<{ entries: AuditEntry[]; next?: string }>('GET', `${ADMIN}/audit`, undefined, {
                query: { limit: 50, from: from ?? undefined, action: action.trim() || undefined, actor: actor.trim() || undefined },
            });
            setEntries(from ? [...entries, ...r.entries] : r.entries);
            setNext(r.next ?? null);
            setError(null);
        } catch (e) {
            setError(errText(e));
        }
    };
    useEffect(() => {
        void load(null);
    }, []);

    return (
        <section class="card" aria-label={t('admin.audit')}>
            <h2>{t('admin.audit')}</h2>
            <div class="row">
                <button
                    class="btn"
                    onClick={async () => {
                        try {
                            setVerify(await store.client.request('GET', `${ADMIN}/audit/verify`));
                        } catch (e) {
                            setError(errText(e));
                        }
                    }}
                >
                    {t('audit.verify')}
                </button>
                {verify && (
                    <span class={verify.ok ? 'ok' : 'error'} role="status">
                        {verify.ok
                            ? t('audit.verified', { n: verify.entries })
                            : t('audit.broken', { seq: verify.first_bad?.seq ?? '?', reason: verify.first_bad?.reason ?? '' })}
                    </span>
                )}
            </div>
            <form
                class="row"
                onSubmit={(e) => {
                    e.preventDefault();
                    void load(null);
                }}
            >
                <input class="input" placeholder={t('audit.filter_action')} aria-label={t('audit.filter_action')} value={action} onInput={(e) => setAction((e.target as HTMLInputElement).value)} />
                <input class="input" placeholder={t('audit.filter_actor')} aria-label={t('audit.filter_actor')} value={actor} onInput={(e) => setActor((e.target as HTMLInputElement).value)} />
                <button class="btn" type="submit">
                    {t('audit.apply')}
                </button>
            </form>
            {error && <p class="error">{error}</p>}
            {entries.length === 0 && !error && <p class="muted">{t('audit.empty')}</p>}
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th scope="col">#</th>
                            <th scope="col">{t('audit.time')}</th>
                            <th scope="col">{t('audit.actor')}</th>
                            <th scope="col">{t('audit.action')}</th>
                            <th scope="col">{t('audit.target')}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {entries.map((x) => (
                            <tr key={x.seq}>
                                <td>{x.seq}</td>
                                <td>{new Date(x.ts).toLocaleString()}</td>
                                <td>{x.actor}</td>
                                <td>
                                    <code>{x.action}</code>
                                    {x.detail && Object.keys(x.detail).length > 0 && <div class="muted small">{JSON.stringify(x.detail)}</div>}
                                </td>
                                <td>{x.target ?? ''}</td>
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

