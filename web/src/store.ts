// store.ts: the app's state and its sync engine: rooms from the /sync
// long-poll loop, history from /messages, the outbox of messages waiting to
// be sent (kept in localStorage, each with a transaction id fixed when it is
// queued, so a retry after a lost answer or a reload never duplicates it),
// DLP answers, read receipts and typing.

import {
    Client,
    MatrixError,
    MatrixEvent,
    NetworkError,
    Session,
    SyncResponse,
    SyncRoom,
    localpart,
    newTxnId,
    EventContent,
} from './matrix';

export const CLASSIFICATION = 'id.balai.room.classification';
export const RULES = 'id.balai.room.rules';
// Hooks for room kinds another part of Balai defines; the room list shows a
// marker when the state event is present (content.enabled !== false).
export const ANNOUNCEMENT = 'id.balai.room.announcement';
export const MANDATORY = 'id.balai.room.mandatory';

const SYNC_FILTER = {
    room: {
        timeline: { limit: 30, unread_thread_notifications: false },
        state: { lazy_load_members: true },
    },
};
const SYNC_TIMEOUT_MS = 30000;

export interface Room {
    id: string;
    membership: 'join' | 'invite';
    state: Map<string, Map<string, MatrixEvent>>;
    timeline: MatrixEvent[];
    byId: Map<string, MatrixEvent>;
    prevBatch: string | null;
    atStart: boolean;
    loadingHistory: boolean;
    unread: number;
    highlight: number;
    typing: string[];
    receipts: Map<string, string>; // user -> event id of their m.read
    heroes: string[];
    joinedCount: number;
    inviter?: string;
    lastTs: number;
    threadsLoaded: Set<string>;
}

export type PendingStatus = 'queued' | 'sending' | 'sent' | 'failed' | 'dlp';

export interface Pending {
    txnId: string;
    roomId: string;
    type: string;
    content: EventContent;
    status: PendingStatus;
    error?: string;
    eventId?: string;
    ts: number;
}

export interface DlpFinding {
    type: string;
    name?: string;
    masked?: string;
    category?: string;
    [k: string]: unknown;
}

export interface DlpPrompt {
    kind: 'warn' | 'blocked' | 'held';
    pending: Pending;
    findings: DlpFinding[];
    message?: string;
}

export interface AdminAccess {
    role: string | null;
    people: boolean;
    import: boolean;
    offboard: boolean;
    create: boolean;
    rooms: boolean;
    rules: boolean;
    rulesWrite: boolean;
    audit: boolean;
    dashboard: boolean;
    incidents: boolean;
    held: boolean;
    reports: boolean;
}

const SESSION_KEY = 'balai.session';

export function loadSession(): Session | null {
    try {
        const s = JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null');
        if (s && typeof s.accessToken === 'string' && typeof s.userId === 'string') return s as Session;
    } catch {
        // corrupt: ignore
    }
    return null;
}

export function saveSession(s: Session | null): void {
    try {
        if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
        else localStorage.removeItem(SESSION_KEY);
    } catch {
        // private mode: the session lasts for this page only
    }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
        const t = setTimeout(resolve, ms);
        signal?.addEventListener('abort', () => {
            clearTimeout(t);
            resolve();
        });
    });
}

export function relation(ev: MatrixEvent) {
    return ev.content?.['m.relates_to'];
}

/** A thread reply (not the root, not a reply fallback in the main timeline). */
export function threadOf(ev: MatrixEvent): string | undefined {
    const r = relation(ev);
    return r?.rel_type === 'm.thread' ? r.event_id : undefined;
}

export class Store {
    readonly client: Client;
    readonly session: Session;
    rooms = new Map<string, Room>();
    direct: Record<string, string[]> = {};
    online = true;
    initialSyncDone = false;
    syncError: string | null = null;
    outbox: Pending[] = [];
    dlp: DlpPrompt | null = null;
    notice: string | null = null;
    drafts = new Map<string, string>();
    displayName: string | null = null;
    admin: AdminAccess | null = null;
    threadReplies = new Map<string, MatrixEvent[]>(); // loaded via /relations

    private listeners = new Set<() => void>();
    private scheduled = false;
    private stopped = false;
    private abort: AbortController | null = null;
    private wake: AbortController | null = null;
    private flushing = false;
    private receiptSent = new Map<string, string>();
    private typingSent = new Map<string, number>();
    private outboxKey: string;

    constructor(session: Session, private readonly onLoggedOut: (expired: boolean) => void) {
        this.session = session;
        this.client = new Client(session);
        this.client.onUnauthorized = () => this.expire();
        this.outboxKey = `balai.outbox.${session.userId}`;
        try {
            const saved = JSON.parse(localStorage.getItem(this.outboxKey) ?? '[]') as Pending[];
            this.outbox = saved.map((p) => ({ ...p, status: p.status === 'sending' ? 'queued' : p.status }));
        } catch {
            this.outbox = [];
        }
    }

    // ---- change notification ----

    subscribe(f: () => void): () => void {
        this.listeners.add(f);
        return () => this.listeners.delete(f);
    }

    changed(): void {
        if (this.scheduled) return;
        this.scheduled = true;
        queueMicrotask(() => {
            this.scheduled = false;
            for (const f of this.listeners) f();
        });
    }

    // ---- lifecycle ----

    start(): void {
        window.addEventListener('online', this.onOnline);
        window.addEventListener('offline', this.onOffline);
        if (!navigator.onLine) this.online = false;
        void this.syncLoop();
        void this.loadProfile();
        void this.loadAdminAccess();
    }

    stop(): void {
        this.stopped = true;
        if (this.poll) clearInterval(this.poll);
        this.poll = null;
        this.abort?.abort();
        this.wake?.abort();
        window.removeEventListener('online', this.onOnline);
        window.removeEventListener('offline', this.onOffline);
        this.listeners.clear();
    }

    /** The server no longer knows our token: back to the login screen at once. */
    private expire(): void {
        if (this.stopped) return;
        this.stop();
        this.onLoggedOut(true);
    }

    async logout(): Promise<void> {
        try {
            await this.client.logout();
        } catch {
            // gone already, or offline: forget it locally anyway
        }
        try {
            localStorage.removeItem(this.outboxKey);
        } catch {
            // nothing kept
        }
        this.stop();
        this.onLoggedOut(false);
    }

    private onOnline = (): void => {
        // a /sync started while offline may hang: start afresh, and cut the back-off short
        this.abort?.abort();
        this.wake?.abort();
    };

    private onOffline = (): void => {
        this.setOnline(false);
        this.abort?.abort();
    };

    // Some browsers miss the 'online' event: while offline, look every second.
    private poll: ReturnType<typeof setInterval> | null = null;

    private setOnline(on: boolean): void {
        if (this.online === on) return;
        this.online = on;
        if (!on && !this.poll && !this.stopped) {
            this.poll = setInterval(() => {
                if (navigator.onLine) this.wake?.abort();
            }, 1000);
        } else if (on && this.poll) {
            clearInterval(this.poll);
            this.poll = null;
        }
        this.changed();
        if (on) void this.flush();
    }

    // ---- sync ----

    private async syncLoop(): Promise<void> {
        let since: string | null = null;
        let backoff = 500;
        while (!this.stopped) {
            this.abort = new AbortController();
            try {
                // while offline, probe: the server answers at once, and a hung
                // request is given up after a few seconds
                const r = await this.client.sync(since, this.online ? SYNC_TIMEOUT_MS : 0, SYNC_FILTER, this.abort.signal);
                if (this.stopped) return;
                this.process(r, since === null);
                since = r.next_batch;
                backoff = 500;
                this.syncError = null;
                if (!this.initialSyncDone) {
                    this.initialSyncDone = true;
                    this.changed();
                }
                this.setOnline(true);
                void this.flush();
            } catch (e) {
                if (this.stopped) return;
                if (e instanceof MatrixError && e.status === 401) return; // expire() ran
                if (e instanceof MatrixError && e.errcode === 'M_UNKNOWN_POS') since = null;
                else if (!(e instanceof NetworkError) && (e as Error)?.name !== 'AbortError')
                    this.syncError = (e as Error)?.message ?? String(e);
                if (e instanceof NetworkError || !navigator.onLine) this.setOnline(false);
                this.wake = new AbortController();
                await sleep(backoff, this.wake.signal);
                backoff = Math.min(backoff * 2, 8000);
            }
        }
    }

    private room(id: string): Room {
        let r = this.rooms.get(id);
        if (!r) {
            r = {
                id,
                membership: 'join',
                state: new Map(),
                timeline: [],
                byId: new Map(),
                prevBatch: null,
                atStart: false,
                loadingHistory: false,
                unread: 0,
                highlight: 0,
                typing: [],
                receipts: new Map(),
                heroes: [],
                joinedCount: 0,
                lastTs: 0,
                threadsLoaded: new Set(),
            };
            this.rooms.set(id, r);
        }
        return r;
    }

    private setState(r: Room, ev: MatrixEvent): void {
        if (ev.state_key === undefined) return;
        let m = r.state.get(ev.type);
        if (!m) r.state.set(ev.type, (m = new Map()));
        m.set(ev.state_key, ev);
    }

    private applyRedaction(r: Room, ev: MatrixEvent): void {
        const target = ev.content?.redacts ?? ev.redacts;
        if (!target) return;
        const t = r.byId.get(target);
        if (t) {
            t.content = {};
            t.unsigned = { ...(t.unsigned ?? {}), redacted_because: ev };
        }
        for (const list of this.threadReplies.values()) {
            const x = list.find((e) => e.event_id === target);
            if (x) {
                x.content = {};
                x.unsigned = { ...(x.unsigned ?? {}), redacted_because: ev };
            }
        }
    }

    private addEvent(r: Room, ev: MatrixEvent, atEnd: boolean): boolean {
        if (r.byId.has(ev.event_id)) return false;
        r.byId.set(ev.event_id, ev);
        if (atEnd) r.timeline.push(ev);
        else r.timeline.unshift(ev);
        if (atEnd) {
            if (ev.state_key !== undefined) this.setState(r, ev);
            if (ev.type === 'm.room.redaction') this.applyRedaction(r, ev);
            if (ev.origin_server_ts > r.lastTs) r.lastTs = ev.origin_server_ts;
            const txn = ev.unsigned?.transaction_id;
            const i = this.outbox.findIndex((p) => (txn && p.txnId === txn) || (p.eventId && p.eventId === ev.event_id));
            if (i >= 0) {
                this.outbox.splice(i, 1);
                this.saveOutbox();
            }
            const th = threadOf(ev);
            if (th) {
                const list = this.threadReplies.get(th);
                if (list && !list.some((e) => e.event_id === ev.event_id)) list.push(ev);
            }
        }
        return true;
    }

    private processJoined(id: string, jr: SyncRoom): void {
        const fresh = !this.rooms.has(id) || this.rooms.get(id)?.membership === 'invite';
        const r = this.room(id);
        r.membership = 'join';
        r.inviter = undefined;
        for (const ev of jr.state?.events ?? []) this.setState(r, ev);
        const tl = jr.timeline;
        if (tl?.limited) {
            r.timeline = [];
            r.byId = new Map();
            r.atStart = false;
        }
        if (tl?.prev_batch && (tl.limited || r.prevBatch === null)) r.prevBatch = tl.prev_batch;
        for (const ev of tl?.events ?? []) this.addEvent(r, ev, true);
        if (fresh && tl && !tl.limited) r.atStart = true;
        if (jr.unread_notifications) {
            r.unread = jr.unread_notifications.notification_count ?? 0;
            r.highlight = jr.unread_notifications.highlight_count ?? 0;
        }
        if (jr.summary) {
            if (jr.summary['m.heroes']) r.heroes = jr.summary['m.heroes'];
            if (jr.summary['m.joined_member_count'] !== undefined) r.joinedCount = jr.summary['m.joined_member_count'];
        }
        for (const e of jr.ephemeral?.events ?? []) {
            if (e.type === 'm.typing') r.typing = (e.content?.user_ids ?? []).filter((u: string) => u !== this.session.userId);
            if (e.type === 'm.receipt') {
                for (const [eventId, byType] of Object.entries<any>(e.content ?? {})) {
                    for (const userId of Object.keys(byType?.['m.read'] ?? {})) r.receipts.set(userId, eventId);
                }
            }
        }
        if (!r.lastTs) {
            const create = r.state.get('m.room.create')?.get('');
            r.lastTs = create?.origin_server_ts ?? 0;
        }
    }

    private process(s: SyncResponse, initial: boolean): void {
        for (const ev of s.account_data?.events ?? []) {
            if (ev.type === 'm.direct' && ev.content && typeof ev.content === 'object') this.direct = ev.content;
        }
        for (const [id, jr] of Object.entries(s.rooms?.join ?? {})) this.processJoined(id, jr);
        for (const [id, ir] of Object.entries(s.rooms?.invite ?? {})) {
            const r = this.room(id);
            r.membership = 'invite';
            for (const ev of ir.invite_state?.events ?? []) {
                this.setState(r, ev);
                if (ev.type === 'm.room.member' && ev.state_key === this.session.userId) {
                    r.inviter = ev.sender;
                    r.lastTs = Math.max(r.lastTs, ev.origin_server_ts ?? Date.now());
                }
            }
            if (!r.lastTs) r.lastTs = Date.now();
        }
        for (const id of Object.keys(s.rooms?.leave ?? {})) this.rooms.delete(id);
        // sent, but their event never came back through /sync (e.g. held): forget them
        const old = Date.now() - 5 * 60000;
        this.outbox = this.outbox.filter((p) => p.status !== 'sent' || p.ts > old);
        if (initial || s.rooms || s.account_data) this.changed();
    }

    // ---- reading ----

    stateContent(r: Room, type: string, key = ''): EventContent | undefined {
        const ev = r.state.get(type)?.get(key);
        return ev ? ev.content : undefined;
    }

    memberName(r: Room | undefined, userId: string): string {
        const m = r?.state.get('m.room.member')?.get(userId);
        const n = m?.content?.displayname;
        if (typeof n === 'string' && n.trim()) return n;
        if (userId === this.session.userId && this.displayName) return this.displayName;
        return localpart(userId);
    }

    members(r: Room): string[] {
        const out: string[] = [];
        for (const [uid, ev] of r.state.get('m.room.member') ?? []) if (ev.content?.membership === 'join') out.push(uid);
        return out;
    }

    isDirect(r: Room): boolean {
        for (const ids of Object.values(this.direct)) if (Array.isArray(ids) && ids.includes(r.id)) return true;
        const me = r.state.get('m.room.member')?.get(this.session.userId);
        return !!me?.content?.is_direct;
    }

    roomName(r: Room): string {
        const name = this.stateContent(r, 'm.room.name')?.name;
        if (typeof name === 'string' && name.trim()) return name;
        const alias = this.stateContent(r, 'm.room.canonical_alias')?.alias;
        if (typeof alias === 'string' && alias) return alias;
        const others = (r.heroes.length ? r.heroes : this.members(r)).filter((u) => u !== this.session.userId);
        if (others.length === 0 && r.inviter) others.push(r.inviter);
        if (others.length === 0) {
            for (const [uid, ev] of r.state.get('m.room.member') ?? [])
                if (uid !== this.session.userId && ev.content?.membership === 'invite') others.push(uid);
        }
        if (others.length) return others.slice(0, 3).map((u) => this.memberName(r, u)).join(', ');
        return r.id;
    }

    classification(r: Room): string | null {
        const label = this.stateContent(r, CLASSIFICATION)?.label;
        return typeof label === 'string' && label ? label : null;
    }

    rules(r: Room): string | null {
        const text = this.stateContent(r, RULES)?.text;
        return typeof text === 'string' && text.trim() ? text : null;
    }

    marker(r: Room, type: string): boolean {
        if (type === MANDATORY) return this.mandatory(r);
        const c = this.stateContent(r, type);
        return !!c && c.enabled !== false;
    }

    // Whether a membership rule keeps us in the room: asked once per room of
    // the organisation API (GET /_balai/client/v1/rooms/{id}), then cached.
    private mandatoryOf = new Map<string, boolean | null>();
    mandatory(r: Room): boolean {
        const known = this.mandatoryOf.get(r.id);
        if (known !== undefined) return !!known;
        if (r.membership !== 'join') return false;
        this.mandatoryOf.set(r.id, null);
        this.client
            .request<{ mandatory?: boolean }>('GET', `/_balai/client/v1/rooms/${encodeURIComponent(r.id)}`)
            .then((o) => {
                this.mandatoryOf.set(r.id, !!o.mandatory);
                if (o.mandatory) this.changed();
            })
            .catch(() => this.mandatoryOf.set(r.id, false));
        return false;
    }

    sortedRooms(): Room[] {
        return [...this.rooms.values()].sort((a, b) => {
            if (a.membership !== b.membership) return a.membership === 'invite' ? -1 : 1;
            return b.lastTs - a.lastTs;
        });
    }

    pendingFor(roomId: string, thread?: string): Pending[] {
        return this.outbox.filter(
            (p) =>
                p.roomId === roomId &&
                p.type === 'm.room.message' &&
                p.status !== 'sent' &&
                !p.content['m.new_content'] &&
                (thread ? p.content['m.relates_to']?.event_id === thread && p.content['m.relates_to']?.rel_type === 'm.thread' : p.content['m.relates_to']?.rel_type !== 'm.thread'),
        );
    }

    // ---- history ----

    async loadHistory(roomId: string): Promise<void> {
        const r = this.rooms.get(roomId);
        if (!r || r.loadingHistory || r.atStart || r.membership !== 'join') return;
        r.loadingHistory = true;
        this.changed();
        try {
            const res = await this.client.messages(roomId, r.prevBatch, 40);
            for (const ev of res.state ?? []) if (!r.state.get(ev.type)?.has(ev.state_key ?? '')) this.setState(r, ev);
            for (const ev of res.chunk) this.addEvent(r, ev, false);
            // redactions in the older page apply to what we hold
            for (const ev of res.chunk) if (ev.type === 'm.room.redaction') this.applyRedaction(r, ev);
            r.prevBatch = res.end ?? null;
            if (!res.end || res.chunk.length === 0) r.atStart = true;
        } catch (e) {
            if (!(e instanceof NetworkError)) this.notice = (e as Error).message;
        } finally {
            r.loadingHistory = false;
            this.changed();
        }
    }

    async loadThread(roomId: string, rootId: string): Promise<void> {
        const r = this.rooms.get(roomId);
        if (!r || r.threadsLoaded.has(rootId)) return;
        r.threadsLoaded.add(rootId);
        try {
            if (!r.byId.has(rootId)) {
                const root = await this.client.getEvent(roomId, rootId);
                if (!r.byId.has(rootId)) {
                    r.byId.set(root.event_id, root);
                }
            }
            const res = await this.client.relations(roomId, rootId, 'm.thread');
            const list = this.threadReplies.get(rootId) ?? [];
            for (const ev of res.chunk) if (!list.some((e) => e.event_id === ev.event_id)) list.push(ev);
            list.sort((a, b) => a.origin_server_ts - b.origin_server_ts);
            this.threadReplies.set(rootId, list);
        } catch (e) {
            r.threadsLoaded.delete(rootId);
            if (!(e instanceof NetworkError)) this.notice = (e as Error).message;
        }
        this.changed();
    }

    threadEvents(r: Room, rootId: string): MatrixEvent[] {
        const seen = new Set<string>();
        const out: MatrixEvent[] = [];
        for (const ev of [...(this.threadReplies.get(rootId) ?? []), ...r.timeline]) {
            if (threadOf(ev) !== rootId || seen.has(ev.event_id)) continue;
            seen.add(ev.event_id);
            out.push(ev);
        }
        return out.sort((a, b) => a.origin_server_ts - b.origin_server_ts);
    }

    // ---- sending ----

    private saveOutbox(): void {
        try {
            const keep = this.outbox.filter((p) => p.status !== 'sent');
            localStorage.setItem(this.outboxKey, JSON.stringify(keep));
        } catch {
            // storage full or unavailable: kept in memory only
        }
    }

    /** Queues an event; it is sent now if online, or when the connection is back. */
    enqueue(roomId: string, type: string, content: EventContent): Pending {
        const p: Pending = { txnId: newTxnId(), roomId, type, content, status: 'queued', ts: Date.now() };
        this.outbox.push(p);
        this.saveOutbox();
        this.changed();
        void this.flush();
        return p;
    }

    sendText(roomId: string, text: string, opts: { replyTo?: string; thread?: string; threadLatest?: string } = {}): void {
        const content: EventContent = { msgtype: 'm.text', body: text };
        if (opts.thread) {
            content['m.relates_to'] = {
                rel_type: 'm.thread',
                event_id: opts.thread,
                is_falling_back: true,
                'm.in_reply_to': { event_id: opts.threadLatest ?? opts.thread },
            };
        } else if (opts.replyTo) {
            content['m.relates_to'] = { 'm.in_reply_to': { event_id: opts.replyTo } };
        }
        this.enqueue(roomId, 'm.room.message', content);
        this.setTyping(roomId, false);
    }

    sendEdit(roomId: string, original: MatrixEvent, text: string): void {
        const content: EventContent = {
            msgtype: 'm.text',
            body: `* ${text}`,
            'm.new_content': { msgtype: 'm.text', body: text },
            'm.relates_to': { rel_type: 'm.replace', event_id: original.event_id },
        };
        this.enqueue(roomId, 'm.room.message', content);
    }

    toggleReaction(roomId: string, target: MatrixEvent, key: string): void {
        const r = this.rooms.get(roomId);
        const mine = r?.timeline.find(
            (e) =>
                e.type === 'm.reaction' &&
                e.sender === this.session.userId &&
                relation(e)?.rel_type === 'm.annotation' &&
                relation(e)?.event_id === target.event_id &&
                relation(e)?.key === key,
        );
        if (mine) void this.redact(roomId, mine.event_id);
        else this.enqueue(roomId, 'm.reaction', { 'm.relates_to': { rel_type: 'm.annotation', event_id: target.event_id, key } });
    }

    async redact(roomId: string, eventId: string): Promise<void> {
        try {
            await this.client.redact(roomId, eventId, newTxnId());
        } catch (e) {
            this.notice = (e as Error).message;
            this.changed();
        }
    }

    retry(p: Pending): void {
        p.status = 'queued';
        p.error = undefined;
        this.saveOutbox();
        this.changed();
        void this.flush();
    }

    discard(p: Pending): void {
        this.outbox = this.outbox.filter((x) => x !== p);
        this.saveOutbox();
        this.changed();
    }

    /** DLP warn: send again, confirmed. A new transaction id: the refused send recorded nothing. */
    dlpSendAnyway(): void {
        const d = this.dlp;
        if (!d) return;
        this.dlp = null;
        d.pending.content = { ...d.pending.content, 'id.balai.dlp_confirm': true };
        d.pending.txnId = newTxnId();
        this.retry(d.pending);
    }

    /** DLP warn/blocked: take the text back into the composer. */
    dlpEdit(): void {
        const d = this.dlp;
        if (!d) return;
        this.dlp = null;
        const body = d.pending.content.body;
        const rel = d.pending.content['m.relates_to'];
        const key = rel?.rel_type === 'm.thread' ? `${d.pending.roomId}|${rel.event_id}` : d.pending.roomId;
        if (typeof body === 'string' && !d.pending.content['m.new_content']) this.drafts.set(key, body);
        this.discard(d.pending);
    }

    dlpDismiss(): void {
        this.dlp = null;
        this.changed();
    }

    async flush(): Promise<void> {
        if (this.flushing || this.stopped) return;
        this.flushing = true;
        try {
            for (;;) {
                const p = this.outbox.find((x) => x.status === 'queued');
                if (!p || !this.online) break;
                p.status = 'sending';
                this.changed();
                try {
                    const res = await this.client.send(p.roomId, p.type, p.content, p.txnId);
                    p.eventId = res.event_id;
                    p.status = 'sent';
                    const r = this.rooms.get(p.roomId);
                    if (r?.byId.has(res.event_id)) this.outbox = this.outbox.filter((x) => x !== p);
                    if (res['id.balai.masked'] || res['id.balai.dlp_action'] === 'mask') this.notice = 'masked';
                } catch (e) {
                    if (e instanceof NetworkError) {
                        p.status = 'queued';
                        this.setOnline(false);
                        this.wake?.abort();
                        break;
                    }
                    if (e instanceof MatrixError) {
                        if (e.status === 401) {
                            p.status = 'queued';
                            break;
                        }
                        if (e.errcode === 'M_LIMIT_EXCEEDED') {
                            p.status = 'queued';
                            await sleep(Math.min(Number(e.data.retry_after_ms) || 1000, 10000));
                            continue;
                        }
                        const findings: DlpFinding[] = Array.isArray(e.data['id.balai.findings']) ? e.data['id.balai.findings'] : [];
                        if (e.errcode === 'ID.BALAI.DLP_WARN') {
                            p.status = 'dlp';
                            this.dlp = { kind: 'warn', pending: p, findings, message: e.message };
                        } else if (e.errcode === 'ID.BALAI.DLP_BLOCKED') {
                            p.status = 'dlp';
                            this.dlp = { kind: 'blocked', pending: p, findings, message: e.message };
                        } else if (e.errcode === 'ID.BALAI.DLP_HELD' || e.errcode === 'ID.BALAI.DLP_HOLD') {
                            this.outbox = this.outbox.filter((x) => x !== p);
                            this.dlp = { kind: 'held', pending: p, findings, message: e.message };
                        } else {
                            p.status = 'failed';
                            p.error = e.message;
                        }
                    } else {
                        p.status = 'failed';
                        p.error = (e as Error)?.message;
                    }
                }
                this.saveOutbox();
                this.changed();
            }
        } finally {
            this.flushing = false;
            this.saveOutbox();
            this.changed();
        }
    }

    // ---- receipts, typing ----

    /** Marks the room read up to its latest event (called while the room is on screen). */
    markRead(roomId: string): void {
        const r = this.rooms.get(roomId);
        if (!r || r.membership !== 'join' || !this.online || document.visibilityState !== 'visible') return;
        let last: MatrixEvent | undefined;
        let lastOther: MatrixEvent | undefined;
        for (let i = r.timeline.length - 1; i >= 0 && !lastOther; i--) {
            const ev = r.timeline[i];
            if (threadOf(ev)) continue;
            if (!last) last = ev;
            if (ev.sender !== this.session.userId) lastOther = ev;
        }
        if (!last || !lastOther || this.receiptSent.get(roomId) === lastOther.event_id) return;
        this.receiptSent.set(roomId, lastOther.event_id);
        r.unread = 0;
        r.highlight = 0;
        this.changed();
        this.client.receipt(roomId, last.event_id).catch(() => this.receiptSent.delete(roomId));
    }

    setTyping(roomId: string, typing: boolean): void {
        const last = this.typingSent.get(roomId) ?? 0;
        const now = Date.now();
        if (typing && now - last < 10000) return;
        if (!typing && last === 0) return;
        this.typingSent.set(roomId, typing ? now : 0);
        this.client.typing(roomId, typing).catch(() => {});
    }

    // ---- rooms and people ----

    async join(roomId: string): Promise<void> {
        try {
            await this.client.join(roomId);
        } catch (e) {
            this.notice = (e as Error).message;
            this.changed();
        }
    }

    async leave(roomId: string): Promise<void> {
        try {
            await this.client.leave(roomId);
            this.rooms.delete(roomId);
            this.changed();
        } catch (e) {
            this.notice = (e as Error).message;
            this.changed();
        }
    }

    /** The DM room with userId (an existing one, or a new one). */
    async openDm(userId: string): Promise<string> {
        for (const id of this.direct[userId] ?? []) {
            const r = this.rooms.get(id);
            if (r) return id;
        }
        for (const r of this.rooms.values()) {
            if (r.membership === 'join' && this.isDirect(r)) {
                const m = r.state.get('m.room.member');
                if (m?.get(userId) && ['join', 'invite'].includes(String(m.get(userId)?.content?.membership))) return r.id;
            }
        }
        const res = await this.client.createDm(userId);
        const next = { ...this.direct, [userId]: [...(this.direct[userId] ?? []), res.room_id] };
        this.direct = next;
        this.client.setAccountData('m.direct', next).catch(() => {});
        this.room(res.room_id).lastTs = Date.now();
        this.changed();
        return res.room_id;
    }

    private async loadProfile(): Promise<void> {
        try {
            this.displayName = (await this.client.getDisplayName(this.session.userId)) ?? null;
            this.changed();
        } catch {
            // shown as the localpart
        }
    }

    async setDisplayName(name: string): Promise<void> {
        await this.client.setDisplayName(name);
        this.displayName = name;
        this.changed();
    }

    /** Which admin screens this user's org role opens (docs/directory.md, roles table). */
    private async loadAdminAccess(): Promise<void> {
        let role: string | null = null;
        try {
            const me = await this.client.request<{ role?: string }>(
                'GET',
                `/_balai/admin/v1/directory/users/${encodeURIComponent(this.session.userId)}`,
            );
            role = me.role ?? null;
        } catch (e) {
            if (e instanceof NetworkError) {
                setTimeout(() => void this.loadAdminAccess(), 5000);
                return;
            }
        }
        this.admin = {
            role,
            people: role !== null && ['owner', 'admin', 'hr', 'compliance'].includes(role),
            import: role !== null && ['owner', 'admin', 'hr'].includes(role),
            offboard: role !== null && ['owner', 'admin', 'hr'].includes(role),
            rooms: role !== null && ['owner', 'admin', 'compliance'].includes(role),
            create: role !== null && ['owner', 'admin'].includes(role),
            rules: role !== null && ['owner', 'admin', 'hr', 'compliance'].includes(role),
            rulesWrite: role !== null && ['owner', 'admin'].includes(role),
            audit: role !== null && ['owner', 'compliance'].includes(role),
            dashboard: role !== null && ['owner', 'admin', 'compliance'].includes(role),
            incidents: role !== null && ['owner', 'compliance'].includes(role),
            held: role !== null && ['owner', 'admin', 'compliance', 'moderator'].includes(role),
            reports: role !== null && ['owner', 'admin', 'moderator'].includes(role),
        };
        this.changed();
    }
}
