// rooms.tsx: group rooms for employees: create one (name, topic,
// classification label, people from the directory; POST /createRoom with the
// `id.balai.room` object, docs/rooms.md), invite more people, and leave a
// room (a refusal, such as a mandatory room's 403, is shown in plain words).
import { useEffect, useState } from 'preact/hooks';
import { Dialog, initials } from './chat';
import { t } from './i18n';
import { CS, MatrixError, NetworkError, Person, enc } from './matrix';
import { navigate, roomPath } from './router';
import type { Room, Store } from './store';

// The server's default `rooms.labels` (docs/rooms.md), used until
// GET /_balai/client/v1/room_labels answers with the configured ones.
export const LABELS = ['public', 'internal', 'confidential', 'restricted-health', 'restricted-finance'];
const DEFAULT_LABEL = 'internal';

function errText(e: unknown): string {
    if (e instanceof NetworkError) return t('offline.notice');
    if (e instanceof MatrixError && (e.status === 400 || e.status === 403) && e.message) return e.message;
    return t('error.generic', { msg: (e as Error).message });
}

/** Directory search with a list of chosen people. */
function PeoplePicker({ store, chosen, onChange, exclude = [] }: { store: Store; chosen: Person[]; onChange: (p: Person[]) => void; exclude?: string[] }) {
    const [q, setQ] = useState('');
    const [results, setResults] = useState<Person[] | null>(null);
    const [error, setError] = useState<string | null>(null);
    useEffect(() => {
        if (!q.trim()) {
            setResults(null);
            return;
        }
        const ctl = new AbortController();
        const timer = setTimeout(() => {
            store.client
                .searchPeople(q.trim(), ctl.signal)
                .then((r) => {
                    setResults(r.filter((p) => p.userId !== store.session.userId && !exclude.includes(p.userId)));
                    setError(null);
                })
                .catch((e) => {
                    if ((e as Error).name !== 'AbortError') setError(errText(e));
                });
        }, 200);
        return () => {
            clearTimeout(timer);
            ctl.abort();
        };
    }, [q]);
    const has = (id: string) => chosen.some((c) => c.userId === id);
    return (
        <div class="people-picker">
            {chosen.length > 0 && (
                <ul class="chosen" aria-label={t('newroom.chosen')}>
                    {chosen.map((p) => (
                        <li key={p.userId} class="chip">
                            <span>{p.displayName}</span>
                            <button
                                type="button"
                                class="btn small"
                                aria-label={`${t('newroom.remove')} ${p.displayName}`}
                                onClick={() => onChange(chosen.filter((c) => c.userId !== p.userId))}
                            >
                                ×
                            </button>
                        </li>
                    ))}
                </ul>
            )}
            <input
                class="input"
                type="search"
                placeholder={t('dm.search')}
                aria-label={t('newroom.search')}
                value={q}
                onInput={(e) => setQ((e.target as HTMLInputElement).value)}
            />
            {error && <p class="error">{error}</p>}
            {results && results.length === 0 && <p class="muted">{t('dm.none')}</p>}
            <ul class="people">
                {results?.map((p) => (
                    <li key={p.userId}>
                        <span class="avatar" aria-hidden="true">
                            {initials(p.displayName)}
                        </span>
                        <span class="person">
                            <span class="room-name">{p.displayName}</span>
                            <span class="muted small">{[p.title, p.unit, p.userId].filter(Boolean).join(' · ')}</span>
                        </span>
                        <button
                            type="button"
                            class="btn small"
                            disabled={has(p.userId)}
                            aria-label={`${t('newroom.add')} ${p.displayName}`}
                            onClick={() => onChange([...chosen, p])}
                        >
                            {has(p.userId) ? t('newroom.added') : t('newroom.add')}
                        </button>
                    </li>
                ))}
            </ul>
        </div>
    );
}

export function NewRoomDialog({ store, onClose }: { store: Store; onClose: () => void }) {
    const [name, setName] = useState('');
    const [topic, setTopic] = useState('');
    const [label, setLabel] = useState(DEFAULT_LABEL);
    const [labels, setLabels] = useState<string[]>(LABELS);
    const [people, setPeople] = useState<Person[]>([]);
    useEffect(() => {
        store.client
            .request<{ labels: string[]; default: string }>('GET', '/_balai/client/v1/room_labels')
            .then((r) => {
                if (Array.isArray(r.labels) && r.labels.length) {
                    setLabels(r.labels);
                    setLabel(r.default);
                }
            })
            .catch(() => {});
    }, []);
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState<string | null>(null);
    return (
        <Dialog title={t('newroom.title')} onClose={() => !busy && onClose()}>
            <form
                onSubmit={async (e) => {
                    e.preventDefault();
                    setBusy(true);
                    setError(null);
                    try {
                        const body: Record<string, unknown> = {
                            preset: 'private_chat',
                            name: name.trim(),
                            invite: people.map((p) => p.userId),
                            'id.balai.room': { classification: label },
                        };
                        if (topic.trim()) body.topic = topic.trim();
                        const r = await store.client.request<{ room_id: string }>('POST', `${CS}/createRoom`, body);
                        onClose();
                        navigate(roomPath(r.room_id));
                    } catch (err) {
                        setError(errText(err));
                        setBusy(false);
                    }
                }}
            >
                <label class="field">
                    <span>{t('newroom.name')}</span>
                    <input class="input" required maxLength={255} value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
                </label>
                <label class="field">
                    <span>{t('newroom.topic')}</span>
                    <input class="input" maxLength={1000} value={topic} onInput={(e) => setTopic((e.target as HTMLInputElement).value)} />
                </label>
                <label class="field">
                    <span>{t('newroom.label')}</span>
                    <select class="input" value={label} onChange={(e) => setLabel((e.target as HTMLSelectElement).value)}>
                        {labels.map((l) => (
                            <option key={l} value={l}>
                                {l}
                            </option>
                        ))}
                    </select>
                </label>
                <fieldset>
                    <legend>{t('newroom.people')}</legend>
                    <PeoplePicker store={store} chosen={people} onChange={setPeople} />
                </fieldset>
                {error && (
                    <p class="error" role="alert">
                        {error}
                    </p>
                )}
                <div class="dialog-actions">
                    <button class="btn" type="button" disabled={busy} onClick={onClose}>
                        {t('rules.cancel')}
                    </button>
                    <button class="btn primary" type="submit" disabled={busy || !name.trim()}>
                        {busy ? t('newroom.creating') : t('newroom.create')}
                    </button>
                </div>
            </form>
        </Dialog>
    );
}

export function InviteDialog({ store, room, onClose }: { store: Store; room: Room; onClose: () => void }) {
    const [people, setPeople] = useState<Person[]>([]);
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState<string | null>(null);
    const [done, setDone] = useState<string | null>(null);
    const members = store.members(room);
    return (
        <Dialog title={t('invite.title', { room: store.roomName(room) })} onClose={() => !busy && onClose()}>
            <PeoplePicker store={store} chosen={people} onChange={setPeople} exclude={members} />
            {error && (
                <p class="error" role="alert">
                    {error}
                </p>
            )}
            {done && (
                <p class="ok" role="status">
                    {done}
                </p>
            )}
            <div class="dialog-actions">
                <button class="btn" disabled={busy} onClick={onClose}>
                    {t('dm.close')}
                </button>
                <button
                    class="btn primary"
                    disabled={busy || people.length === 0}
                    onClick={async () => {
                        setBusy(true);
                        setError(null);
                        const left: Person[] = [];
                        const ok: string[] = [];
                        for (const p of people) {
                            try {
                                await store.client.request('POST', `${CS}/rooms/${enc(room.id)}/invite`, { user_id: p.userId });
                                ok.push(p.displayName);
                            } catch (e) {
                                left.push(p);
                                setError(`${p.displayName}: ${errText(e)}`);
                            }
                        }
                        setPeople(left);
                        if (ok.length) setDone(t('invite.done', { names: ok.join(', ') }));
                        setBusy(false);
                    }}
                >
                    {t('invite.send')}
                </button>
            </div>
        </Dialog>
    );
}

export function LeaveDialog({ store, room, onClose }: { store: Store; room: Room; onClose: () => void }) {
    const [busy, setBusy] = useState(false);
    const [refused, setRefused] = useState<string | null>(null);
    const name = store.roomName(room);
    return (
        <Dialog title={t('leave.title', { room: name })} onClose={() => !busy && onClose()} role="alertdialog">
            {refused ? (
                <div role="alert">
                    <p>
                        <strong>{t('leave.refused')}</strong>
                    </p>
                    <p>{refused}</p>
                </div>
            ) : (
                <p>{t('leave.confirm')}</p>
            )}
            <div class="dialog-actions">
                <button class="btn" disabled={busy} onClick={onClose}>
                    {refused ? t('dm.close') : t('rules.cancel')}
                </button>
                {!refused && (
                    <button
                        class="btn danger"
                        disabled={busy}
                        onClick={async () => {
                            setBusy(true);
                            try {
                                await store.client.leave(room.id);
                                store.rooms.delete(room.id);
                                store.changed();
                                onClose();
                                navigate('/rooms');
                            } catch (e) {
                                setRefused(errText(e));
                                setBusy(false);
                            }
                        }}
                    >
                        {t('room.leave')}
                    </button>
                )}
            </div>
        </Dialog>
    );
}
