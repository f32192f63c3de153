// rules.tsx: the admin console's membership rules (docs/rules.md): the list
// of rules (GET /_balai/admin/v1/rules), the editor (conditions, rooms by
// alias or id, mandatory) with the preview of who joins and who leaves
// (POST .../rules/preview) before Save (POST or PUT), and delete with a
// confirmation that previews who leaves. Owners and admins write; HR and
// compliance read.
import { useEffect, useState } from 'preact/hooks';
import { Dialog } from './chat';
import { t } from './i18n';
import { MatrixError, enc } from './matrix';
import type { Store } from './store';

const RULES = '/_balai/admin/v1/rules';

// The text conditions of a rule's match, each a comma-separated list in the form.
const CONDS = ['unit', 'site', 'title', 'status', 'role', 'group'] as const;
type Cond = (typeof CONDS)[number];

interface Rule {
    rule_id?: string;
    name: string;
    match: Record<string, unknown>;
    rooms: string[];
    mandatory: boolean;
    created_ts?: number;
    updated_ts?: number;
}

interface Change {
    user_id: string;
    room_id: string;
    rule_id?: string;
    rule: string;
}

interface Preview {
    join: Change[];
    leave: Change[];
    join_count: number;
    leave_count: number;
}

interface Form {
    rule_id?: string;
    name: string;
    conds: Record<Cond, string>;
    subunits: boolean;
    everyone: boolean;
    rooms: string;
    mandatory: boolean;
}

function errText(e: unknown): string {
    if (e instanceof MatrixError && e.status === 403) return t('error.forbidden');
    if (e instanceof MatrixError && e.status === 400) return e.message;
    return t('error.generic', { msg: (e as Error).message });
}

const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);
const split = (s: string): string[] =>
    s
        .split(/[,\n]/)
        .map((x) => x.trim())
        .filter(Boolean);

function toForm(r?: Rule): Form {
    const conds = {} as Record<Cond, string>;
    for (const c of CONDS) conds[c] = list(r?.match[c]).join(', ');
    return {
        rule_id: r?.rule_id,
        name: r?.name ?? '',
        conds,
        subunits: r?.match.subunits === true,
        everyone: r?.match.everyone === true,
        rooms: (r?.rooms ?? []).join('\n'),
        mandatory: r?.mandatory ?? false,
    };
}

function fromForm(f: Form): Rule {
    const match: Record<string, unknown> = {};
    if (f.everyone) match.everyone = true;
    else {
        for (const c of CONDS) {
            const v = split(f.conds[c]);
            if (v.length) match[c] = v.length === 1 ? v[0] : v;
        }
        if (match.unit !== undefined) match.subunits = f.subunits;
    }
    const r: Rule = { name: f.name.trim(), match, rooms: split(f.rooms), mandatory: f.mandatory };
    if (f.rule_id) r.rule_id = f.rule_id;
    return r;
}

export function Rules({ store, canWrite }: { store: Store; canWrite: boolean }) {
    const [rules, setRules] = useState<Rule[] | null>(null);
    const [applying, setApplying] = useState(0);
    const [error, setError] = useState<string | null>(null);
    const [editing, setEditing] = useState<Form | null>(null);
    const [deleting, setDeleting] = useState<Rule | null>(null);
    const [saved, setSaved] = useState<string | null>(null);
    const [reload, setReload] = useState(0);

    useEffect(() => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        store.client
            .request<{ rules: Rule[]; applying: { queued: number; in_flight: number } }>('GET', RULES)
            .then((r) => {
                setRules(r.rules);
                const busy = r.applying.queued + r.applying.in_flight;
                setApplying(busy);
                setError(null);
                // while the rules are being applied, look again shortly
                if (busy > 0) timer = setTimeout(() => setReload((n) => n + 1), 1000);
            })
            .catch((e) => setError(errText(e)));
        return () => clearTimeout(timer);
    }, [reload]);

    const roomName = (id: string) => {
        const r = store.rooms.get(id);
        return r ? store.roomName(r) : id;
    };

    return (
        <section class="card" aria-label={t('admin.rules')}>
            <h2>{t('admin.rules')}</h2>
            <p class="muted">{t('rules.help')}</p>
            {canWrite ? (
                !editing && (
                    <button class="btn primary" onClick={() => { setSaved(null); setEditing(toForm()); }}>
                        {t('rules.new')}
                    </button>
                )
            ) : (
                <p class="muted small">{t('rules.read_only')}</p>
            )}
            {saved && (
                <p class="ok" role="status">
                    {saved}
                </p>
            )}
            {applying > 0 && (
                <p class="muted small" role="status">
                    {t('rules.applying', { n: applying })}
                </p>
            )}
            {error && <p class="error">{error}</p>}
            {editing && (
                <RuleEditor
                    store={store}
                    form={editing}
                    roomName={roomName}
                    onCancel={() => setEditing(null)}
                    onSaved={(name) => {
                        setEditing(null);
                        setSaved(t('rules.saved', { name }));
                        setReload(reload + 1);
                    }}
                />
            )}
            {rules && rules.length === 0 && <p class="muted">{t('rules.empty')}</p>}
            {rules && rules.length > 0 && (
                <div class="table-wrap">
                    <table class="table">
                        <thead>
                            <tr>
                                <th scope="col">{t('rules.name')}</th>
                                <th scope="col">{t('rules.conditions')}</th>
                                <th scope="col">{t('rules.rooms')}</th>
                                <th scope="col">{t('rules.mandatory')}</th>
                                {canWrite && <th scope="col">{t('people.actions')}</th>}
                            </tr>
                        </thead>
                        <tbody>
                            {rules.map((r) => (
                                <tr key={r.rule_id}>
                                    <td>{r.name}</td>
                                    <td>{matchText(r.match)}</td>
                                    <td>{r.rooms.map(roomName).join(', ')}</td>
                                    <td>{r.mandatory ? t('rules.yes') : t('rules.no')}</td>
                                    {canWrite && (
                                        <td class="cell-actions">
                                            <button class="btn small" aria-label={`${t('rules.edit')} ${r.name}`} onClick={() => { setSaved(null); setEditing(toForm(r)); }}>
                                                {t('rules.edit')}
                                            </button>
                                            <button class="btn small danger" aria-label={`${t('rules.delete')} ${r.name}`} onClick={() => setDeleting(r)}>
                                                {t('rules.delete')}
                                            </button>
                                        </td>
                                    )}
                                </tr>
                            ))}
                        </tbody>
                    </table>
                </div>
            )}
            {deleting && (
                <DeleteDialog
                    store={store}
                    rule={deleting}
                    roomName={roomName}
                    onClose={() => setDeleting(null)}
                    onDone={() => {
                        setSaved(t('rules.deleted', { name: deleting.name }));
                        setDeleting(null);
                        setReload(reload + 1);
                    }}
                />
            )}
        </section>
    );
}

function matchText(m: Record<string, unknown>): string {
    if (m.everyone === true) return t('rules.everyone');
    const parts: string[] = [];
    for (const c of CONDS) {
        const v = list(m[c]);
        if (v.length) parts.push(`${t(`rules.c_${c}`)}: ${v.join(' / ')}${c === 'unit' && m.subunits ? ` (${t('rules.subunits_short')})` : ''}`);
    }
    if (typeof m.guest === 'boolean') parts.push(`${t('people.guest')}: ${m.guest ? t('rules.yes') : t('rules.no')}`);
    return parts.join(' · ');
}

function PreviewList({ preview, roomName }: { preview: Preview; roomName: (id: string) => string }) {
    const item = (c: Change) => (
        <li key={`${c.user_id} ${c.room_id}`}>
            <strong>{c.user_id}</strong> → {roomName(c.room_id)} <span class="muted small">({c.rule})</span>
        </li>
    );
    return (
        <div class="diff" aria-live="polite" aria-label={t('rules.preview_title')} role="region">
            {preview.join_count === 0 && preview.leave_count === 0 && <p>{t('rules.no_changes')}</p>}
            {preview.join_count > 0 && (
                <>
                    <h3>{t('rules.would_join', { n: preview.join_count })}</h3>
                    <ul>{preview.join.map(item)}</ul>
                </>
            )}
            {preview.leave_count > 0 && (
                <>
                    <h3>{t('rules.would_leave', { n: preview.leave_count })}</h3>
                    <ul>{preview.leave.map(item)}</ul>
                </>
            )}
        </div>
    );
}

function RuleEditor({
    store,
    form: initial,
    roomName,
    onCancel,
    onSaved,
}: {
    store: Store;
    form: Form;
    roomName: (id: string) => string;
    onCancel: () => void;
    onSaved: (name: string) => void;
}) {
    const [f, setF] = useState<Form>(initial);
    const [preview, setPreview] = useState<Preview | null>(null);
    const [error, setError] = useState<string | null>(null);
    const [busy, setBusy] = useState(false);
    useEffect(() => {
        setF(initial);
        setPreview(null);
        setError(null);
    }, [initial]);
    // any change makes the preview stale: Save needs a fresh one
    const set = (p: Partial<Form>) => {
        setF({ ...f, ...p });
        setPreview(null);
    };
    const setCond = (c: Cond, v: string) => set({ conds: { ...f.conds, [c]: v } });

    const run = async (save: boolean) => {
        setBusy(true);
        setError(null);
        const rule = fromForm(f);
        try {
            if (!save) {
                setPreview(await store.client.request<Preview>('POST', `${RULES}/preview`, { rule }));
            } else {
                const body = { name: rule.name, match: rule.match, rooms: rule.rooms, mandatory: rule.mandatory };
                if (rule.rule_id) await store.client.request('PUT', `${RULES}/${enc(rule.rule_id)}`, body);
                else await store.client.request('POST', RULES, body);
                onSaved(rule.name);
            }
        } catch (e) {
            setError(errText(e));
        } finally {
            setBusy(false);
        }
    };

    const title = f.rule_id ? t('rules.edit_title', { name: initial.name }) : t('rules.new');
    return (
        <form
            class="rule-editor"
            aria-label={title}
            onSubmit={(e) => {
                e.preventDefault();
                void run(false);
            }}
        >
            <h3>{title}</h3>
            <label class="field">
                <span>{t('rules.name')}</span>
                <input class="input" required maxLength={200} value={f.name} onInput={(e) => set({ name: (e.target as HTMLInputElement).value })} />
            </label>
            <fieldset>
                <legend>{t('rules.conditions')}</legend>
                <p class="muted small">{t('rules.conditions_help')}</p>
                <label class="check">
                    <input type="checkbox" checked={f.everyone} onChange={(e) => set({ everyone: (e.target as HTMLInputElement).checked })} /> {t('rules.everyone')}
                </label>
                {!f.everyone &&
                    CONDS.map((c) => (
                        <label class="field" key={c}>
                            <span>{t(`rules.c_${c}`)}</span>
                            <input
                                class="input"
                                value={f.conds[c]}
                                placeholder={t(`rules.p_${c}`)}
                                autocapitalize="none"
                                spellcheck={false}
                                onInput={(e) => setCond(c, (e.target as HTMLInputElement).value)}
                            />
                        </label>
                    ))}
                {!f.everyone && (
                    <label class="check">
                        <input type="checkbox" checked={f.subunits} onChange={(e) => set({ subunits: (e.target as HTMLInputElement).checked })} /> {t('rules.subunits')}
                    </label>
                )}
            </fieldset>
            <label class="field">
                <span>{t('rules.rooms')}</span>
                <textarea
                    class="input"
                    rows={3}
                    required
                    placeholder="#icu:example.org"
                    autocapitalize="none"
                    spellcheck={false}
                    value={f.rooms}
                    aria-describedby="rule-rooms-help"
                    onInput={(e) => set({ rooms: (e.target as HTMLTextAreaElement).value })}
                />
            </label>
            <p class="muted small" id="rule-rooms-help">
                {t('rules.rooms_help')}
            </p>
            <label class="check">
                <input type="checkbox" checked={f.mandatory} onChange={(e) => set({ mandatory: (e.target as HTMLInputElement).checked })} /> {t('rules.mandatory_help')}
            </label>
            {error && (
                <p class="error" role="alert">
                    {error}
                </p>
            )}
            {preview && <PreviewList preview={preview} roomName={roomName} />}
            <div class="row">
                <button class="btn" type="submit" disabled={busy}>
                    {t('rules.preview')}
                </button>
                <button class="btn primary" type="button" disabled={busy || !preview} title={preview ? undefined : t('rules.preview_first')} onClick={() => run(true)}>
                    {t('rules.save')}
                </button>
                <button class="btn" type="button" disabled={busy} onClick={onCancel}>
                    {t('rules.cancel')}
                </button>
            </div>
            {!preview && <p class="muted small">{t('rules.preview_first')}</p>}
        </form>
    );
}

function DeleteDialog({
    store,
    rule,
    roomName,
    onClose,
    onDone,
}: {
    store: Store;
    rule: Rule;
    roomName: (id: string) => string;
    onClose: () => void;
    onDone: () => void;
}) {
    const [preview, setPreview] = useState<Preview | null>(null);
    const [error, setError] = useState<string | null>(null);
    const [busy, setBusy] = useState(false);
    useEffect(() => {
        store.client
            .request<Preview>('POST', `${RULES}/preview`, { delete: rule.rule_id })
            .then(setPreview)
            .catch((e) => setError(errText(e)));
    }, [rule.rule_id]);
    return (
        <Dialog title={t('rules.delete_title', { name: rule.name })} onClose={() => !busy && onClose()} role="alertdialog">
            <p>{t('rules.delete_help')}</p>
            {preview ? <PreviewList preview={preview} roomName={roomName} /> : !error && <p class="muted">{t('app.loading')}</p>}
            {error && <p class="error">{error}</p>}
            <div class="dialog-actions">
                <button class="btn" disabled={busy} onClick={onClose}>
                    {t('rules.cancel')}
                </button>
                <button
                    class="btn danger"
                    disabled={busy}
                    onClick={async () => {
                        setBusy(true);
                        try {
                            await store.client.request('DELETE', `${RULES}/${enc(rule.rule_id ?? '')}`);
                            onDone();
                        } catch (e) {
                            setError(errText(e));
                            setBusy(false);
                        }
                    }}
                >
                    {t('rules.delete_confirm')}
                </button>
            </div>
        </Dialog>
    );
}

