// admin.tsx: the admin console (a separate chunk). Each section is shown to
// the org roles that may use it (docs/directory.md, roles table): People
// (the directory, CSV import with a dry run), Rooms, membership Rules
// (rules.tsx), Compliance and the audit trail viewer.
import { useEffect, useState } from 'preact/hooks';
import { Dialog, labelClass } from './chat';
import { Compliance } from './compliance';
import { Dashboard } from './dashboard';
import { t } from './i18n';
import { MatrixError, localpart } from './matrix';
import { linkClick } from './router';
import { Rules } from './rules';
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
        a.dashboard && { id: 'dashboard', label: t('admin.dashboard') },
        a.people && { id: 'people', label: t('admin.people') },
        a.rooms && { id: 'rooms', label: t('admin.rooms') },
        a.rules && { id: 'rules', label: t('admin.rules') },
        (a.incidents || a.held || a.reports) && { id: 'compliance', label: t('admin.compliance') },
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
                {active.id === 'dashboard' && <Dashboard store={store} />}
                {active.id === 'people' && <People store={store} canImport={a.import} canOffboard={a.offboard} canCreate={a.create} />}
                {active.id === 'rooms' && <RoomsInventory store={store} />}
                {active.id === 'rules' && <Rules store={store} canWrite={a.rulesWrite} />}
                {active.id === 'compliance' && <Compliance store={store} access={a} />}
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

function People({ store, canImport, canOffboard, canCreate }: { store: Store; canImport: boolean; canOffboard: boolean; canCreate: boolean }) {
    const [offboard, setOffboard] = useState<PersonRec | null>(null);
    const [pwFor, setPwFor] = useState<PersonRec | null>(null);
    const [record, setRecord] = useState<{ name: string; rec: OffboardRecord } | null>(null);
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
            {canCreate && <AddPerson store={store} onCreated={() => setReload(reload + 1)} />}
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
                            {(canOffboard || canCreate) && <th scope="col">{t('people.actions')}</th>}
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
                                {(canOffboard || canCreate) && (
                                    <td class="cell-actions">
                                        {canCreate && !p.deactivated && (
                                            <button class="btn small" aria-label={`${t('people.set_password')} ${personName(p)}`} onClick={() => setPwFor(p)}>
                                                {t('people.set_password')}
                                            </button>
                                        )}
                                        {canOffboard && !p.deactivated && p.user_id !== store.session.userId && (
                                            <button class="btn small danger" aria-label={`${t('people.offboard')} ${personName(p)}`} onClick={() => setOffboard(p)}>
                                                {t('people.offboard')}
                                            </button>
                                        )}
                                        {canOffboard && p.deactivated && (
                                            <button
                                                class="btn small"
                                                onClick={async () => {
                                                    try {
                                                        const rec = await store.client.request<OffboardRecord>('GET', `${ADMIN}/users/${encodeURIComponent(p.user_id)}/offboarding`);
                                                        setRecord({ name: personName(p), rec });
                                                    } catch (e) {
                                                        setError(errText(e));
                                                    }
                                                }}
                                            >
                                                {t('people.record')}
                                            </button>
                                        )}
                                    </td>
                                )}
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
            {offboard && (
                <OffboardDialog
                    store={store}
                    person={offboard}
                    onClose={() => setOffboard(null)}
                    onDone={(rec) => {
                        setOffboard(null);
                        setRecord({ name: personName(offboard), rec });
                        setReload(reload + 1);
                    }}
                />
            )}
            {pwFor && <PasswordDialog store={store} person={pwFor} onClose={() => setPwFor(null)} />}
            {record && <RecordDialog name={record.name} rec={record.rec} onClose={() => setRecord(null)} />}
        </section>
    );
}

function AddPerson({ store, onCreated }: { store: Store; onCreated: () => void }) {
    const [username, setUsername] = useState('');
    const [displayname, setDisplayname] = useState('');
    const [password, setPassword] = useState('');
    const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
    const [busy, setBusy] = useState(false);
    return (
        <details class="import">
            <summary>{t('people.add')}</summary>
            <p class="muted">{t('people.add_help')}</p>
            <form
                onSubmit={async (e) => {
                    e.preventDefault();
                    setBusy(true);
                    try {
                        const r = await store.client.request<{ user_id: string }>('POST', `${ADMIN}/users`, {
                            username: username.trim(),
                            password,
                            ...(displayname.trim() ? { displayname: displayname.trim() } : {}),
                        });
                        setStatus({ ok: true, text: t('people.created', { user: r.user_id ?? username }) });
                        setUsername('');
                        setDisplayname('');
                        setPassword('');
                        onCreated();
                    } catch (err) {
                        setStatus({ ok: false, text: errText(err) });
                    } finally {
                        setBusy(false);
                    }
                }}
            >
                <label class="field">
                    <span>{t('people.username')}</span>
                    <input class="input" required autocapitalize="none" spellcheck={false} value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
                </label>
                <label class="field">
                    <span>{t('settings.display_name')}</span>
                    <input class="input" value={displayname} maxLength={256} onInput={(e) => setDisplayname((e.target as HTMLInputElement).value)} />
                </label>
                <label class="field">
                    <span>{t('people.password')}</span>
                    <input class="input" type="password" autocomplete="new-password" required minLength={10} value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
                </label>
                <button class="btn primary" type="submit" disabled={busy}>
                    {t('people.create')}
                </button>
                {status && (
                    <p class={status.ok ? 'ok' : 'error'} role="status">
                        {status.text}
                    </p>
                )}
            </form>
        </details>
    );
}

function PasswordDialog({ store, person, onClose }: { store: Store; person: PersonRec; onClose: () => void }) {
    const [password, setPassword] = useState('');
    const [logout, setLogout] = useState(true);
    const [busy, setBusy] = useState(false);
    const [status, setStatus] = useState<{ ok: boolean; text: string } | null>(null);
    const name = personName(person);
    return (
        <Dialog title={t('people.password_title', { name })} onClose={() => !busy && onClose()}>
            <form
                onSubmit={async (e) => {
                    e.preventDefault();
                    setBusy(true);
                    try {
                        await store.client.request('POST', `${ADMIN}/users/${encodeURIComponent(person.user_id)}/password`, {
                            password,
                            logout_devices: logout,
                        });
                        setPassword('');
                        setStatus({ ok: true, text: t('people.password_set', { name }) });
                    } catch (err) {
                        setStatus({ ok: false, text: err instanceof MatrixError && err.status === 400 ? err.message : errText(err) });
                    } finally {
                        setBusy(false);
                    }
                }}
            >
                <p class="muted">{t('people.password_help')}</p>
                <label class="field">
                    <span>{t('people.password_new')}</span>
                    <input class="input" type="password" autocomplete="new-password" required minLength={10} value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
                </label>
                <label class="check">
                    <input type="checkbox" checked={logout} onChange={(e) => setLogout((e.target as HTMLInputElement).checked)} /> {t('people.password_logout')}
                </label>
                {status && (
                    <p class={status.ok ? 'ok' : 'error'} role="status">
                        {status.text}
                    </p>
                )}
                <div class="dialog-actions">
                    <button class="btn" type="button" disabled={busy} onClick={onClose}>
                        {t('people.close')}
                    </button>
                    <button class="btn primary" type="submit" disabled={busy}>
                        {t('people.password_save')}
                    </button>
                </div>
            </form>
        </Dialog>
    );
}

function personName(p: PersonRec): string {
    return p.display_name ?? p.profile_displayname ?? localpart(p.user_id);
}

interface OffboardRecord {
    type?: string;
    user_id: string;
    server_name?: string;
    actor?: string;
    reason?: string;
    completed_ts?: number;
    tokens_revoked?: number;
    devices_removed?: number;
    rooms_left?: unknown[];
    rooms_failed?: unknown[];
    signatures?: Record<string, Record<string, string>>;
    [k: string]: unknown;
}

function OffboardDialog({ store, person, onClose, onDone }: { store: Store; person: PersonRec; onClose: () => void; onDone: (rec: OffboardRecord) => void }) {
    const [reason, setReason] = useState('');
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState<string | null>(null);
    const name = personName(person);
    return (
        <Dialog title={t('people.offboard_title', { name })} onClose={() => !busy && onClose()} role="alertdialog">
            <p>{t('people.offboard_text', { name })}</p>
            <label class="field">
                <span>{t('people.offboard_reason')}</span>
                <input class="input" value={reason} maxLength={500} onInput={(e) => setReason((e.target as HTMLInputElement).value)} />
            </label>
            {error && <p class="error">{error}</p>}
            <div class="dialog-actions">
                <button class="btn" disabled={busy} onClick={onClose}>
                    {t('people.cancel')}
                </button>
                <button
                    class="btn danger"
                    disabled={busy}
                    onClick={async () => {
                        setBusy(true);
                        try {
                            const rec = await store.client.request<OffboardRecord>(
                                'POST',
                                `${ADMIN}/users/${encodeURIComponent(person.user_id)}/offboard`,
                                reason.trim() ? { reason: reason.trim() } : {},
                                { timeoutMs: 120000 },
                            );
                            onDone(rec);
                        } catch (e) {
                            setError(errText(e));
                            setBusy(false);
                        }
                    }}
                >
                    {busy ? t('people.offboard_busy') : t('people.offboard_confirm')}
                </button>
            </div>
        </Dialog>
    );
}

function RecordDialog({ name, rec, onClose }: { name: string; rec: OffboardRecord; onClose: () => void }) {
    const signers = Object.keys(rec.signatures ?? {});
    return (
        <Dialog title={t('people.record')} onClose={onClose}>
            <p role="status">{t('people.offboard_done', { name })}</p>
            <p>
                {t('people.record_summary', {
                    tokens: rec.tokens_revoked ?? 0,
                    devices: rec.devices_removed ?? 0,
                    rooms: rec.rooms_left?.length ?? 0,
                    failed: rec.rooms_failed?.length ?? 0,
                    server: signers.join(', ') || '—',
                })}
            </p>
            <pre class="record">{JSON.stringify(rec, null, 2)}</pre>
            <div class="dialog-actions">
                <button class="btn primary" onClick={onClose}>
                    {t('people.close')}
                </button>
            </div>
        </Dialog>
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
                timeoutMs: 120000,
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

// ---- Rooms inventory ----

interface InventoryRow {
    room_id: string;
    name?: string | null;
    members?: number;
    stewards?: string[];
    classification?: string | null;
    owner_unit_name?: string | null;
    owner_unit?: string | null;
    purpose?: string | null;
    last_activity_ts?: number;
    archived?: boolean;
    orphan?: boolean;
    understaffed?: boolean;
    stale?: boolean;
}

function RoomsInventory({ store }: { store: Store }) {
    const [rows, setRows] = useState<InventoryRow[] | null>(null);
    const [only, setOnly] = useState('');
    const [error, setError] = useState<string | null>(null);

    useEffect(() => {
        store.client
            .request<{ rooms: InventoryRow[] }>('GET', `${ADMIN}/rooms`, undefined, { query: { only: only || undefined } })
            .then((r) => {
                setRows(r.rooms);
                setError(null);
            })
            .catch((e) => setError(errText(e)));
    }, [only]);

    // Downloads go through fetch (the token is a header, not a cookie), then a blob link.
    const download = async (format: 'csv' | 'xlsx') => {
        try {
            const res = await fetch(`${ADMIN}/rooms?format=${format}${only ? `&only=${only}` : ''}`, {
                headers: { Authorization: `Bearer ${store.session.accessToken}` },
            });
            if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
            const url = URL.createObjectURL(await res.blob());
            const a = document.createElement('a');
            a.href = url;
            a.download = `balai-rooms.${format}`;
            document.body.appendChild(a);
            a.click();
            a.remove();
            setTimeout(() => URL.revokeObjectURL(url), 10000);
        } catch (e) {
            setError(errText(e));
        }
    };

    return (
        <section class="card" aria-label={t('admin.rooms')}>
            <h2>{t('admin.rooms')}</h2>
            <div class="row">
                <label>
                    <span class="visually-hidden">{t('rooms_inv.show')}</span>
                    <select class="input" value={only} onChange={(e) => setOnly((e.target as HTMLSelectElement).value)} aria-label={t('rooms_inv.show')}>
                        <option value="">{t('rooms_inv.all')}</option>
                        <option value="stale">{t('rooms_inv.only_stale')}</option>
                        <option value="orphaned">{t('rooms_inv.only_orphaned')}</option>
                        <option value="understaffed">{t('rooms_inv.only_understaffed')}</option>
                    </select>
                </label>
                <button class="btn" onClick={() => download('csv')}>
                    {t('rooms_inv.csv')}
                </button>
                <button class="btn" onClick={() => download('xlsx')}>
                    {t('rooms_inv.xlsx')}
                </button>
            </div>
            {error && <p class="error">{error}</p>}
            {rows && <p class="muted small">{t('rooms_inv.total', { n: rows.length })}</p>}
            <div class="table-wrap">
                <table class="table">
                    <thead>
                        <tr>
                            <th scope="col">{t('rooms_inv.name')}</th>
                            <th scope="col">{t('rooms_inv.label')}</th>
                            <th scope="col">{t('rooms_inv.members')}</th>
                            <th scope="col">{t('rooms_inv.stewards')}</th>
                            <th scope="col">{t('rooms_inv.unit')}</th>
                            <th scope="col">{t('rooms_inv.last_activity')}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {rows?.map((r) => (
                            <tr key={r.room_id}>
                                <td>
                                    <div>
                                        {r.name || r.room_id}
                                        {r.orphan && <span class="badge label-high">{t('rooms_inv.orphan')}</span>}
                                        {r.understaffed && <span class="badge label-mid">{t('rooms_inv.understaffed')}</span>}
                                        {r.stale && <span class="badge label-mid">{t('rooms_inv.stale')}</span>}
                                        {r.archived && <span class="badge">{t('rooms_inv.archived')}</span>}
                                    </div>
                                    <div class="muted small">{r.purpose || r.room_id}</div>
                                </td>
                                <td>{r.classification && <span class={`badge label ${labelClass(r.classification)}`}>{r.classification}</span>}</td>
                                <td>{r.members ?? 0}</td>
                                <td>{(r.stewards ?? []).map((s) => localpart(s)).join(', ')}</td>
                                <td>{r.owner_unit_name ?? r.owner_unit ?? ''}</td>
                                <td>{r.last_activity_ts ? new Date(r.last_activity_ts).toLocaleString() : t('rooms_inv.never')}</td>
                            </tr>
                        ))}
                    </tbody>
                </table>
            </div>
        </section>
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

