// chat.tsx: the employee screens: room list, room (header, timeline,
// composer), thread panel, new-DM search, and the DLP dialog. Group rooms
// (new room, invite, leave) are in rooms.tsx.
import { ComponentChildren, JSX } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { Key, locale, t } from './i18n';
import { MatrixEvent, Person } from './matrix';
import { linkClick, navigate, roomPath } from './router';
import { ANNOUNCEMENT, DlpFinding, MANDATORY, Pending, Room, Store, relation, threadOf } from './store';
import { InviteDialog, LeaveDialog } from './rooms';
import { Linkified, stripReplyFallback } from './text';

const QUICK_REACTIONS = ['👍', '❤️', '😂', '🎉', '😮', '🙏'];

// ---- room list ----

export function RoomList({ store, activeId, onNewDm, onNewRoom }: { store: Store; activeId?: string; onNewDm: () => void; onNewRoom: () => void }) {
    const [filter, setFilter] = useState('');
    const rooms = store.sortedRooms().filter((r) => !filter || store.roomName(r).toLowerCase().includes(filter.toLowerCase()));
    const invites = rooms.filter((r) => r.membership === 'invite');
    const joined = rooms.filter((r) => r.membership === 'join');
    return (
        <nav class="room-list" aria-label={t('rooms.title')}>
            <div class="room-list-head">
                <h2>{t('rooms.title')}</h2>
                <span class="row-tight">
                    <button class="btn small" onClick={onNewRoom}>
                        {t('rooms.new_room')}
                    </button>
                    <button class="btn primary small" onClick={onNewDm}>
                        {t('rooms.new_dm')}
                    </button>
                </span>
            </div>
            <input
                class="input filter"
                type="search"
                placeholder={t('rooms.filter')}
                aria-label={t('rooms.filter')}
                value={filter}
                onInput={(e) => setFilter((e.target as HTMLInputElement).value)}
            />
            {invites.length > 0 && (
                <section aria-label={t('rooms.invites')}>
                    <h3 class="list-title">{t('rooms.invites')}</h3>
                    <ul>
                        {invites.map((r) => (
                            <li class="invite" key={r.id}>
                                <span class="room-name">{store.roomName(r)}</span>
                                {r.inviter && <span class="muted small">{t('rooms.invited_by', { name: store.memberName(r, r.inviter) })}</span>}
                                <span class="invite-actions">
                                    <button
                                        class="btn primary small"
                                        onClick={async () => {
                                            await store.join(r.id);
                                            navigate(roomPath(r.id));
                                        }}
                                    >
                                        {t('rooms.join')}
                                    </button>
                                    <button class="btn small" onClick={() => store.leave(r.id)}>
                                        {t('rooms.decline')}
                                    </button>
                                </span>
                            </li>
                        ))}
                    </ul>
                </section>
            )}
            {joined.length === 0 && invites.length === 0 && store.initialSyncDone && <p class="muted pad">{t('rooms.empty')}</p>}
            <ul>
                {joined.map((r) => {
                    const label = store.classification(r);
                    const path = roomPath(r.id);
                    return (
                        <li key={r.id}>
                            <a
                                href={path}
                                class={`room-item${r.id === activeId ? ' active' : ''}${r.unread ? ' has-unread' : ''}`}
                                aria-current={r.id === activeId ? 'page' : undefined}
                                onClick={(e) => linkClick(e as unknown as MouseEvent, path)}
                            >
                                <span class="avatar" aria-hidden="true">
                                    {initials(store.roomName(r))}
                                </span>
                                <span class="room-item-text">
                                    <span class="room-name">{store.roomName(r)}</span>
                                    <span class="room-badges">
                                        {label && <span class={`badge label ${labelClass(label)}`}>{label}</span>}
                                        {store.marker(r, ANNOUNCEMENT) && <span class="badge marker">{t('rooms.announcement')}</span>}
                                        {store.marker(r, MANDATORY) && <span class="badge marker">{t('rooms.mandatory')}</span>}
                                    </span>
                                </span>
                                {r.unread > 0 && (
                                    <span class={`count${r.highlight ? ' highlight' : ''}`} aria-label={t('rooms.unread', { n: r.unread })}>
                                        {r.unread > 99 ? '99+' : r.unread}
                                    </span>
                                )}
                            </a>
                        </li>
                    );
                })}
            </ul>
        </nav>
    );
}

export function initials(name: string): string {
    const words = name.replace(/^[@#!]/, '').split(/[\s._-]+/).filter(Boolean);
    return (words[0]?.[0] ?? '?').toUpperCase() + (words[1]?.[0] ?? '').toUpperCase();
}

export function labelClass(label: string): string {
    const l = label.toLowerCase();
    if (/(secret|rahasia|restricted|terbatas|confidential)/.test(l)) return 'label-high';
    if (/(internal|intern)/.test(l)) return 'label-mid';
    return 'label-low';
}

// ---- time helpers ----

function dayKey(ts: number): string {
    const d = new Date(ts);
    return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function dayLabel(ts: number): string {
    const now = new Date();
    const y = new Date(now.getTime() - 86400000);
    if (dayKey(ts) === dayKey(now.getTime())) return t('date.today');
    if (dayKey(ts) === dayKey(y.getTime())) return t('date.yesterday');
    return new Date(ts).toLocaleDateString(locale(), { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
}

function timeLabel(ts: number): string {
    return new Date(ts).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit' });
}

// ---- aggregation of relations over the loaded events ----

interface Aggregates {
    reactions: Map<string, Map<string, { count: number; senders: string[]; mine?: string }>>;
    edits: Map<string, MatrixEvent>;
    threads: Map<string, number>;
    readers: Map<string, string[]>;
}

function aggregate(store: Store, room: Room, events: MatrixEvent[]): Aggregates {
    const me = store.session.userId;
    const agg: Aggregates = { reactions: new Map(), edits: new Map(), threads: new Map(), readers: new Map() };
    for (const ev of events) {
        const rel = relation(ev);
        if (!rel?.event_id) continue;
        if (ev.type === 'm.reaction' && rel.rel_type === 'm.annotation' && rel.key) {
            let byKey = agg.reactions.get(rel.event_id);
            if (!byKey) agg.reactions.set(rel.event_id, (byKey = new Map()));
            let k = byKey.get(rel.key);
            if (!k) byKey.set(rel.key, (k = { count: 0, senders: [] }));
            if (k.senders.includes(ev.sender)) continue;
            k.count++;
            k.senders.push(ev.sender);
            if (ev.sender === me) k.mine = ev.event_id;
        } else if (rel.rel_type === 'm.replace' && ev.content['m.new_content']) {
            const orig = room.byId.get(rel.event_id);
            if (orig && orig.sender !== ev.sender) continue;
            const prev = agg.edits.get(rel.event_id);
            if (!prev || prev.origin_server_ts <= ev.origin_server_ts) agg.edits.set(rel.event_id, ev);
        } else if (rel.rel_type === 'm.thread') {
            agg.threads.set(rel.event_id, (agg.threads.get(rel.event_id) ?? 0) + 1);
        }
    }
    // a receipt shows under the latest message at or before the event it names
    const index = new Map<string, number>();
    room.timeline.forEach((ev, i) => index.set(ev.event_id, i));
    for (const [user, eventId] of room.receipts) {
        if (user === me) continue;
        let i = index.get(eventId) ?? -1;
        while (i >= 0 && (room.timeline[i].type !== 'm.room.message' || threadOf(room.timeline[i]) || relation(room.timeline[i])?.rel_type === 'm.replace')) i--;
        if (i < 0) continue;
        const at = room.timeline[i].event_id;
        const list = agg.readers.get(at) ?? [];
        list.push(user);
        agg.readers.set(at, list);
    }
    return agg;
}

function isShown(ev: MatrixEvent): boolean {
    if (threadOf(ev)) return false;
    const rel = relation(ev);
    if (ev.type === 'm.room.message') return rel?.rel_type !== 'm.replace' || !!ev.unsigned?.redacted_because;
    if (ev.type === 'm.room.member') {
        const m = ev.content.membership;
        const prev = ev.unsigned?.prev_content?.membership;
        return (m === 'join' && prev !== 'join') || m === 'leave' || m === 'invite';
    }
    return ev.type === 'm.room.create' || ev.type === 'm.room.name';
}

// ---- one message ----

interface MessageProps {
    store: Store;
    room: Room;
    ev: MatrixEvent;
    agg: Aggregates;
    inThread?: boolean;
    onReply?: (ev: MatrixEvent) => void;
    onEdit: (ev: MatrixEvent) => void;
}

function bodyOf(ev: MatrixEvent, agg: Aggregates): { text: string; edited: boolean } {
    const edit = agg.edits.get(ev.event_id) ?? ev.unsigned?.['m.relations']?.['m.replace'];
    const nc = edit?.content?.['m.new_content'];
    if (nc && typeof nc.body === 'string') return { text: nc.body, edited: true };
    const body = typeof ev.content.body === 'string' ? ev.content.body : '';
    return { text: relation(ev)?.['m.in_reply_to'] ? stripReplyFallback(body) : body, edited: false };
}

function Notice({ store, room, ev }: { store: Store; room: Room; ev: MatrixEvent }) {
    const name = store.memberName(room, ev.sender);
    let text = '';
    if (ev.type === 'm.room.create') text = t('msg.created', { name });
    else if (ev.type === 'm.room.name') text = t('msg.named', { name, room: String(ev.content.name ?? '') });
    else if (ev.type === 'm.room.member') {
        const target = store.memberName(room, ev.state_key ?? ev.sender);
        if (ev.content.membership === 'join') text = t('msg.joined', { name: target });
        else if (ev.content.membership === 'leave') text = t('msg.left', { name: target });
        else text = t('msg.invited', { name, target });
    }
    return <li class="notice">{text}</li>;
}

function Message({ store, room, ev, agg, inThread, onReply, onEdit }: MessageProps) {
    const me = store.session.userId;
    const mine = ev.sender === me;
    const redacted = !!ev.unsigned?.redacted_because || (ev.type === 'm.room.message' && Object.keys(ev.content).length === 0);
    const { text, edited } = bodyOf(ev, agg);
    const replyId = relation(ev)?.['m.in_reply_to']?.event_id;
    const replyTo = replyId && !relation(ev)?.is_falling_back ? room.byId.get(replyId) : undefined;
    const reactions = agg.reactions.get(ev.event_id);
    const threadCount = Math.max(agg.threads.get(ev.event_id) ?? 0, ev.unsigned?.['m.relations']?.['m.thread']?.count ?? 0);
    const readers = agg.readers.get(ev.event_id)?.filter((u) => u !== ev.sender) ?? [];
    const [picker, setPicker] = useState(false);
    const supported = ev.content.msgtype === undefined || ['m.text', 'm.notice', 'm.emote'].includes(String(ev.content.msgtype));

    return (
        <li class={`msg${mine ? ' mine' : ''}`} data-event-id={ev.event_id} tabIndex={-1}>
            <div class="msg-head">
                <span class="sender">{store.memberName(room, ev.sender)}</span>
                <time dateTime={new Date(ev.origin_server_ts).toISOString()}>{timeLabel(ev.origin_server_ts)}</time>
            </div>
            {replyTo && (
                <blockquote class="reply-quote">
                    <span class="sender">{store.memberName(room, replyTo.sender)}</span>{' '}
                    {(bodyOf(replyTo, agg).text || t('msg.deleted')).slice(0, 140)}
                </blockquote>
            )}
            {redacted ? (
                <div class="body deleted">{t('msg.deleted')}</div>
            ) : (
                <div class="body">
                    {supported ? <Linkified text={text} /> : t('msg.unsupported', { type: String(ev.content.msgtype) })}
                    {edited && <span class="edited"> {t('msg.edited')}</span>}
                </div>
            )}
            {reactions && reactions.size > 0 && !redacted && (
                <div class="reactions">
                    {[...reactions].map(([key, r]) => (
                        <button
                            class={`reaction${r.mine ? ' mine' : ''}`}
                            aria-pressed={r.mine ? 'true' : 'false'}
                            title={r.senders.map((s) => store.memberName(room, s)).join(', ')}
                            onClick={() => store.toggleReaction(room.id, ev, key)}
                        >
                            {key} {r.count}
                        </button>
                    ))}
                </div>
            )}
            {!inThread && threadCount > 0 && (
                <a
                    class="thread-summary"
                    href={roomPath(room.id, ev.event_id)}
                    onClick={(e) => linkClick(e as unknown as MouseEvent, roomPath(room.id, ev.event_id))}
                >
                    {threadCount === 1 ? t('msg.one_reply') : t('msg.replies', { n: threadCount })}
                </a>
            )}
            {readers.length > 0 && (
                <div class="read-by">{t('msg.read_by', { names: readers.slice(0, 5).map((u) => store.memberName(room, u)).join(', ') })}</div>
            )}
            {!redacted && (
                <div class="actions" role="toolbar" aria-label={t('msg.react')}>
                    {onReply && (
                        <button class="act" onClick={() => onReply(ev)}>
                            {t('msg.reply')}
                        </button>
                    )}
                    {!inThread && (
                        <button class="act" onClick={() => navigate(roomPath(room.id, ev.event_id))}>
                            {t('msg.thread')}
                        </button>
                    )}
                    <button class="act" aria-expanded={picker ? 'true' : 'false'} onClick={() => setPicker(!picker)}>
                        {t('msg.react')}
                    </button>
                    {mine && ev.type === 'm.room.message' && (
                        <button class="act" onClick={() => onEdit(ev)}>
                            {t('msg.edit')}
                        </button>
                    )}
                    {mine && (
                        <button
                            class="act danger"
                            onClick={() => {
                                if (confirm(t('msg.delete_confirm'))) void store.redact(room.id, ev.event_id);
                            }}
                        >
                            {t('msg.delete')}
                        </button>
                    )}
                    {picker && (
                        <span class="picker">
                            {QUICK_REACTIONS.map((k) => (
                                <button
                                    class="act emoji"
                                    aria-label={k}
                                    onClick={() => {
                                        setPicker(false);
                                        store.toggleReaction(room.id, ev, k);
                                    }}
                                >
                                    {k}
                                </button>
                            ))}
                        </span>
                    )}
                </div>
            )}
        </li>
    );
}

function PendingItem({ store, p }: { store: Store; p: Pending }) {
    const status =
        p.status === 'failed' ? t('msg.failed') : p.status === 'dlp' ? t('dlp.title') : store.online ? t('msg.sending') : t('msg.queued');
    return (
        <li class={`msg mine pending ${p.status}`} data-txn-id={p.txnId}>
            <div class="body">
                <Linkified text={String(p.content.body ?? '')} />
            </div>
            <div class="pending-status" role="status">
                {status}
                {p.error && <span class="muted"> {p.error}</span>}
                {p.status === 'failed' && (
                    <>
                        {' '}
                        <button class="btn small" onClick={() => store.retry(p)}>
                            {t('msg.retry')}
                        </button>
                        <button class="btn small" onClick={() => store.discard(p)}>
                            {t('msg.discard')}
                        </button>
                    </>
                )}
            </div>
        </li>
    );
}

// ---- timeline ----

function Timeline({
    store,
    room,
    events,
    pending,
    inThread,
    onReply,
    onEdit,
}: {
    store: Store;
    room: Room;
    events: MatrixEvent[];
    pending: Pending[];
    inThread?: boolean;
    onReply?: (ev: MatrixEvent) => void;
    onEdit: (ev: MatrixEvent) => void;
}) {
    const scroller = useRef<HTMLDivElement>(null);
    const atBottom = useRef(true);
    const prevHeight = useRef(0);
    const prevFirst = useRef<string | undefined>(undefined);
    const agg = useMemo(() => aggregate(store, room, inThread ? [...room.timeline, ...events] : room.timeline), [store, room, events, room.timeline.length, room.receipts.size]);
    const shown = events.filter((ev) => inThread || isShown(ev));

    // Keep the view at the bottom for new messages; keep it in place when older ones arrive on top.
    useLayoutEffect(() => {
        const el = scroller.current;
        if (!el) return;
        const first = shown[0]?.event_id;
        if (prevFirst.current && first !== prevFirst.current && !atBottom.current) {
            el.scrollTop += el.scrollHeight - prevHeight.current;
        } else if (atBottom.current) {
            el.scrollTop = el.scrollHeight;
        }
        prevFirst.current = first;
        prevHeight.current = el.scrollHeight;
    });

    const onScroll = () => {
        const el = scroller.current;
        if (!el) return;
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        if (!inThread && el.scrollTop < 80 && !room.atStart && !room.loadingHistory) void store.loadHistory(room.id);
    };

    const items: JSX.Element[] = [];
    let lastDay = '';
    for (const ev of shown) {
        const d = dayKey(ev.origin_server_ts);
        if (d !== lastDay) {
            lastDay = d;
            items.push(
                <li class="date-sep" role="separator" key={`d${d}`}>
                    <span>{dayLabel(ev.origin_server_ts)}</span>
                </li>,
            );
        }
        if (ev.type === 'm.room.message' || ev.unsigned?.redacted_because)
            items.push(<Message key={ev.event_id} store={store} room={room} ev={ev} agg={agg} inThread={inThread} onReply={onReply} onEdit={onEdit} />);
        else items.push(<Notice key={ev.event_id} store={store} room={room} ev={ev} />);
    }
    for (const p of pending) items.push(<PendingItem key={p.txnId} store={store} p={p} />);

    return (
        <div class="timeline" ref={scroller} onScroll={onScroll} tabIndex={0} aria-label={t('rooms.title')}>
            {!inThread && (
                <div class="history">
                    {room.atStart ? (
                        <span class="muted small">{t('room.history_start')}</span>
                    ) : (
                        <button class="btn small" disabled={room.loadingHistory} onClick={() => store.loadHistory(room.id)}>
                            {room.loadingHistory ? t('room.loading_more') : t('room.load_more')}
                        </button>
                    )}
                </div>
            )}
            <ol class="events" aria-live="polite" aria-relevant="additions">
                {items}
            </ol>
        </div>
    );
}

// ---- composer ----

function Composer({
    store,
    room,
    thread,
    threadLatest,
    replyTo,
    editing,
    onDone,
}: {
    store: Store;
    room: Room;
    thread?: string;
    threadLatest?: string;
    replyTo?: MatrixEvent;
    editing?: MatrixEvent;
    onDone: () => void;
}) {
    const key = thread ? `${room.id}|${thread}` : room.id;
    const [text, setText] = useState('');
    const ref = useRef<HTMLTextAreaElement>(null);

    useEffect(() => {
        const draft = store.drafts.get(key);
        if (draft !== undefined) {
            setText(draft);
            store.drafts.delete(key);
        }
    });
    useEffect(() => {
        if (editing) {
            const edit = editing.unsigned?.['m.relations']?.['m.replace']?.content?.['m.new_content']?.body;
            setText(String(edit ?? editing.content.body ?? ''));
        }
        ref.current?.focus();
    }, [editing, replyTo]);

    const submit = () => {
        const body = text.trim();
        if (!body) return;
        if (editing) store.sendEdit(room.id, editing, body);
        else store.sendText(room.id, body, { replyTo: replyTo?.event_id, thread, threadLatest });
        setText('');
        onDone();
    };

    return (
        <form
            class="composer"
            onSubmit={(e) => {
                e.preventDefault();
                submit();
            }}
        >
            {(replyTo || editing) && (
                <div class="composer-context">
                    <span>{editing ? t('composer.editing') : t('composer.reply_to', { name: store.memberName(room, replyTo!.sender) })}</span>
                    <button
                        type="button"
                        class="btn small"
                        onClick={() => {
                            setText('');
                            onDone();
                        }}
                    >
                        {t('composer.cancel')}
                    </button>
                </div>
            )}
            <div class="composer-row">
                <textarea
                    ref={ref}
                    class="input"
                    rows={1}
                    value={text}
                    placeholder={thread ? t('thread.placeholder') : t('composer.placeholder')}
                    aria-label={thread ? t('thread.placeholder') : t('composer.placeholder')}
                    onInput={(e) => {
                        const v = (e.target as HTMLTextAreaElement).value;
                        setText(v);
                        store.setTyping(room.id, v.length > 0);
                    }}
                    onKeyDown={(e) => {
                        if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
                            e.preventDefault();
                            submit();
                        } else if (e.key === 'Escape' && (replyTo || editing)) {
                            setText('');
                            onDone();
                        }
                    }}
                />
                <button class="btn primary" type="submit">
                    {t('composer.send')}
                </button>
            </div>
        </form>
    );
}

function TypingLine({ store, room }: { store: Store; room: Room }) {
    const names = room.typing.map((u) => store.memberName(room, u));
    let text = '';
    if (names.length === 1) text = t('typing.one', { a: names[0] });
    else if (names.length === 2) text = t('typing.two', { a: names[0], b: names[1] });
    else if (names.length > 2) text = t('typing.many');
    return (
        <div class="typing" aria-live="polite">
            {text}
        </div>
    );
}

// ---- room ----

export function RoomView({ store, room, threadId }: { store: Store; room: Room; threadId?: string }) {
    const [replyTo, setReplyTo] = useState<MatrixEvent | undefined>();
    const [editing, setEditing] = useState<MatrixEvent | undefined>();
    const [showRules, setShowRules] = useState(false);
    const [dialog, setDialog] = useState<'invite' | 'leave' | null>(null);
    const label = store.classification(room);
    const rules = store.rules(room);
    const members = room.joinedCount || store.members(room).length;

    useEffect(() => {
        setReplyTo(undefined);
        setEditing(undefined);
        setShowRules(false);
        setDialog(null);
    }, [room.id]);

    // read receipts while the room is on screen
    useEffect(() => {
        store.markRead(room.id);
    });
    useEffect(() => {
        const f = () => store.markRead(room.id);
        document.addEventListener('visibilitychange', f);
        window.addEventListener('focus', f);
        return () => {
            document.removeEventListener('visibilitychange', f);
            window.removeEventListener('focus', f);
        };
    }, [room.id]);

    if (room.membership === 'invite') {
        return (
            <section class="room" aria-label={store.roomName(room)}>
                <div class="room-invite">
                    <h2>{store.roomName(room)}</h2>
                    <button class="btn primary" onClick={() => store.join(room.id)}>
                        {t('rooms.join')}
                    </button>
                </div>
            </section>
        );
    }

    return (
        <section class={`room${threadId ? ' with-thread' : ''}`} aria-label={store.roomName(room)}>
            <header class="room-header">
                <a class="btn back" href="/rooms" onClick={(e) => linkClick(e as unknown as MouseEvent, '/rooms')} aria-label={t('nav.back')}>
                    ←
                </a>
                <div class="room-title">
                    <h2>{store.roomName(room)}</h2>
                    <span class="muted small">{t('room.members', { n: members })}</span>
                </div>
                {rules && (
                    <button class="btn small" aria-expanded={showRules ? 'true' : 'false'} onClick={() => setShowRules(!showRules)}>
                        {showRules ? t('room.rules_hide') : t('room.rules')}
                    </button>
                )}
                {!store.isDirect(room) && (
                    <button class="btn small" onClick={() => setDialog('invite')}>
                        {t('room.invite')}
                    </button>
                )}
                <button class="btn small" onClick={() => setDialog('leave')}>
                    {t('room.leave')}
                </button>
            </header>
            {dialog === 'invite' && <InviteDialog store={store} room={room} onClose={() => setDialog(null)} />}
            {dialog === 'leave' && <LeaveDialog store={store} room={room} onClose={() => setDialog(null)} />}
            {label && (
                <div class={`classification-banner ${labelClass(label)}`} role="note">
                    {t('room.classification', { label })}
                </div>
            )}
            {rules && showRules && (
                <div class="rules" role="region" aria-label={t('room.rules')}>
                    {rules}
                </div>
            )}
            <Timeline
                store={store}
                room={room}
                events={room.timeline}
                pending={store.pendingFor(room.id)}
                onReply={(ev) => {
                    setEditing(undefined);
                    setReplyTo(ev);
                }}
                onEdit={(ev) => {
                    setReplyTo(undefined);
                    setEditing(ev);
                }}
            />
            <TypingLine store={store} room={room} />
            <Composer
                store={store}
                room={room}
                replyTo={replyTo}
                editing={editing}
                onDone={() => {
                    setReplyTo(undefined);
                    setEditing(undefined);
                }}
            />
        </section>
    );
}

export function ThreadPanel({ store, room, rootId }: { store: Store; room: Room; rootId: string }) {
    const [editing, setEditing] = useState<MatrixEvent | undefined>();
    useEffect(() => {
        void store.loadThread(room.id, rootId);
    }, [room.id, rootId]);
    const root = room.byId.get(rootId);
    const replies = store.threadEvents(room, rootId);
    const events = root ? [root, ...replies] : replies;
    const close = roomPath(room.id);
    return (
        <aside class="thread-panel" aria-label={t('thread.title')}>
            <header class="room-header">
                <h2>{t('thread.title')}</h2>
                <a class="btn small" href={close} onClick={(e) => linkClick(e as unknown as MouseEvent, close)}>
                    {t('thread.close')}
                </a>
            </header>
            <Timeline store={store} room={room} events={events} pending={store.pendingFor(room.id, rootId)} inThread onEdit={setEditing} />
            <Composer
                store={store}
                room={room}
                thread={rootId}
                threadLatest={replies[replies.length - 1]?.event_id}
                editing={editing}
                onDone={() => setEditing(undefined)}
            />
        </aside>
    );
}

// ---- dialogs ----

export function Dialog({ title, onClose, children, role = 'dialog' }: { title: string; onClose: () => void; children: ComponentChildren; role?: 'dialog' | 'alertdialog' }) {
    const ref = useRef<HTMLDivElement>(null);
    useEffect(() => {
        const prev = document.activeElement as HTMLElement | null;
        const first = ref.current?.querySelector<HTMLElement>('input, button, [tabindex]');
        first?.focus();
        return () => prev?.focus?.();
    }, []);
    return (
        <div class="backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
            <div
                class="dialog"
                role={role}
                aria-modal="true"
                aria-labelledby="dialog-title"
                ref={ref}
                onKeyDown={(e) => {
                    if (e.key === 'Escape') onClose();
                    if (e.key === 'Tab') {
                        const f = [...(ref.current?.querySelectorAll<HTMLElement>('input, button, a[href], textarea, select') ?? [])].filter((x) => !x.hasAttribute('disabled'));
                        if (f.length === 0) return;
                        const i = f.indexOf(document.activeElement as HTMLElement);
                        if (e.shiftKey && i <= 0) {
                            e.preventDefault();
                            f[f.length - 1].focus();
                        } else if (!e.shiftKey && i === f.length - 1) {
                            e.preventDefault();
                            f[0].focus();
                        }
                    }
                }}
            >
                <h2 id="dialog-title">{title}</h2>
                {children}
            </div>
        </div>
    );
}

export function DmDialog({ store, onClose }: { store: Store; onClose: () => void }) {
    const [q, setQ] = useState('');
    const [results, setResults] = useState<Person[] | null>(null);
    const [busy, setBusy] = useState<string | null>(null);
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
                .then((r) => setResults(r.filter((p) => p.userId !== store.session.userId)))
                .catch((e) => {
                    if ((e as Error).name !== 'AbortError') setError((e as Error).message);
                });
        }, 200);
        return () => {
            clearTimeout(timer);
            ctl.abort();
        };
    }, [q]);

    return (
        <Dialog title={t('dm.title')} onClose={onClose}>
            <input
                class="input"
                type="search"
                placeholder={t('dm.search')}
                aria-label={t('dm.search')}
                value={q}
                onInput={(e) => setQ((e.target as HTMLInputElement).value)}
            />
            {error && <p class="error">{t('error.generic', { msg: error })}</p>}
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
                            class="btn primary small"
                            disabled={busy !== null}
                            aria-label={`${t('dm.start')} ${p.displayName}`}
                            onClick={async () => {
                                setBusy(p.userId);
                                try {
                                    const id = await store.openDm(p.userId);
                                    onClose();
                                    navigate(roomPath(id));
                                } catch (e) {
                                    setError((e as Error).message);
                                    setBusy(null);
                                }
                            }}
                        >
                            {busy === p.userId ? t('dm.starting') : t('dm.start')}
                        </button>
                    </li>
                ))}
            </ul>
            <div class="dialog-actions">
                <button class="btn" onClick={onClose}>
                    {t('dm.close')}
                </button>
            </div>
        </Dialog>
    );
}

export function findingText(f: DlpFinding): string {
    const k = `dlp.type.${f.type}` as Key;
    const known = ['nik', 'kk', 'npwp', 'bpjs', 'passport', 'phone', 'email', 'card', 'iban', 'context', 'bulk', 'custom'];
    const base = known.includes(f.type) ? t(k, { name: String(f.name ?? '') }) : t('dlp.type.other', { type: String(f.type) });
    return f.masked && f.type !== 'context' && f.type !== 'bulk' ? `${base}: ${f.masked}` : base;
}

export function DlpDialog({ store }: { store: Store }) {
    const d = store.dlp;
    if (!d) return null;
    const list = (
        <ul class="findings">
            {d.findings.map((f, i) => (
                <li key={i}>{findingText(f)}</li>
            ))}
        </ul>
    );
    if (d.kind === 'warn') {
        return (
            <Dialog title={t('dlp.title')} onClose={() => store.dlpEdit()} role="alertdialog">
                <p>{t('dlp.intro')}</p>
                {list}
                <p>{t('dlp.question')}</p>
                <div class="dialog-actions">
                    <button class="btn" onClick={() => store.dlpEdit()}>
                        {t('dlp.edit')}
                    </button>
                    <button class="btn danger" onClick={() => store.dlpSendAnyway()}>
                        {t('dlp.send_anyway')}
                    </button>
                </div>
            </Dialog>
        );
    }
    if (d.kind === 'held') {
        return (
            <Dialog title={t('dlp.title')} onClose={() => store.dlpDismiss()} role="alertdialog">
                <p>{t('dlp.held')}</p>
                <div class="dialog-actions">
                    <button class="btn primary" onClick={() => store.dlpDismiss()}>
                        {t('dlp.ok')}
                    </button>
                </div>
            </Dialog>
        );
    }
    return (
        <Dialog title={t('dlp.blocked_title')} onClose={() => store.dlpEdit()} role="alertdialog">
            <p>{t('dlp.blocked')}</p>
            {list}
            <div class="dialog-actions">
                <button class="btn primary" onClick={() => store.dlpEdit()}>
                    {t('dlp.edit')}
                </button>
            </div>
        </Dialog>
    );
}
