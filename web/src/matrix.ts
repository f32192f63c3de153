// matrix.ts: a small typed client for the Matrix Client-Server API and
// Balai's /_balai APIs, over fetch. Same origin only (the app is served by
// the server it talks to). Any 401 M_UNKNOWN_TOKEN / M_MISSING_TOKEN calls
// onUnauthorized, which sends the app back to the login screen.

export const CS = '/_matrix/client/v3';

export interface Session {
    userId: string;
    accessToken: string;
    deviceId: string;
}

export interface RelatesTo {
    rel_type?: string;
    event_id?: string;
    key?: string;
    is_falling_back?: boolean;
    'm.in_reply_to'?: { event_id: string };
}

export interface EventContent {
    body?: string;
    msgtype?: string;
    format?: string;
    formatted_body?: string;
    membership?: string;
    displayname?: string;
    name?: string;
    topic?: string;
    label?: string;
    text?: string;
    redacts?: string;
    'm.relates_to'?: RelatesTo;
    'm.new_content'?: EventContent;
    [key: string]: unknown;
}

export interface MatrixEvent {
    event_id: string;
    type: string;
    sender: string;
    origin_server_ts: number;
    content: EventContent;
    state_key?: string;
    redacts?: string;
    room_id?: string;
    unsigned?: {
        transaction_id?: string;
        redacted_because?: MatrixEvent;
        'm.relations'?: {
            'm.replace'?: MatrixEvent;
            'm.thread'?: { count: number; latest_event: MatrixEvent; current_user_participated?: boolean };
        };
        prev_content?: EventContent;
        [key: string]: unknown;
    };
}

export interface SyncRoom {
    timeline?: { events?: MatrixEvent[]; limited?: boolean; prev_batch?: string };
    state?: { events?: MatrixEvent[] };
    ephemeral?: { events?: { type: string; content: any }[] };
    account_data?: { events?: { type: string; content: any }[] };
    unread_notifications?: { notification_count?: number; highlight_count?: number };
    summary?: { 'm.heroes'?: string[]; 'm.joined_member_count'?: number; 'm.invited_member_count'?: number };
}

export interface SyncResponse {
    next_batch: string;
    rooms?: {
        join?: Record<string, SyncRoom>;
        invite?: Record<string, { invite_state?: { events?: MatrixEvent[] } }>;
        leave?: Record<string, SyncRoom>;
    };
    account_data?: { events?: { type: string; content: any }[] };
}

export interface MessagesResponse {
    chunk: MatrixEvent[];
    start: string;
    end?: string;
    state?: MatrixEvent[];
}

export class MatrixError extends Error {
    constructor(
        readonly status: number,
        readonly errcode: string,
        message: string,
        readonly data: Record<string, any>,
    ) {
        super(message);
    }
}

/** A fetch that never reached the server (offline, connection reset). */
export class NetworkError extends Error {}

export interface RequestOptions {
    query?: Record<string, string | number | boolean | undefined>;
    signal?: AbortSignal;
    rawBody?: BodyInit;
    contentType?: string;
    /** Give up after this long (default 30 s): a NetworkError. */
    timeoutMs?: number;
    /** Don't treat 401 as a logout (the login call itself). */
    noAuthHandling?: boolean;
}

export function enc(s: string): string {
    return encodeURIComponent(s);
}

export function localpart(userId: string): string {
    const i = userId.indexOf(':');
    return userId.slice(1, i > 0 ? i : undefined);
}

export function newTxnId(): string {
    const a = new Uint8Array(12);
    crypto.getRandomValues(a);
    return 'w' + Date.now().toString(36) + Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Client {
    onUnauthorized: (err: MatrixError) => void = () => {};

    constructor(readonly session: Session | null) {}

    get userId(): string {
        return this.session?.userId ?? '';
    }

    async request<T = any>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
        let url = path;
        if (opts.query) {
            const q = Object.entries(opts.query)
                .filter(([, v]) => v !== undefined)
                .map(([k, v]) => `${enc(k)}=${enc(String(v))}`)
                .join('&');
            if (q) url += (url.includes('?') ? '&' : '?') + q;
        }
        const headers: Record<string, string> = {};
        if (this.session) headers.Authorization = `Bearer ${this.session.accessToken}`;
        let payload: BodyInit | undefined;
        if (opts.rawBody !== undefined) {
            payload = opts.rawBody;
            if (opts.contentType) headers['Content-Type'] = opts.contentType;
        } else if (body !== undefined) {
            payload = JSON.stringify(body);
            headers['Content-Type'] = 'application/json';
        }
        // Every request is bounded: a fetch can hang when the network goes
        // away under it; a timeout counts as a network failure (retried).
        const ctl = new AbortController();
        const onAbort = () => ctl.abort();
        opts.signal?.addEventListener('abort', onAbort);
        let timedOut = false;
        const timer = setTimeout(() => {
            timedOut = true;
            ctl.abort();
        }, opts.timeoutMs ?? 30000);
        let res: Response;
        let text: string;
        try {
            res = await fetch(url, { method, headers, body: payload, signal: ctl.signal, cache: 'no-store' });
            text = await res.text();
        } catch (e) {
            if (timedOut) throw new NetworkError('timeout');
            if (opts.signal?.aborted) throw e;
            throw new NetworkError((e as Error)?.message ?? 'network error');
        } finally {
            clearTimeout(timer);
            opts.signal?.removeEventListener('abort', onAbort);
        }
        let data: any = null;
        try {
            data = text ? JSON.parse(text) : {};
        } catch {
            data = { error: text.slice(0, 200) };
        }
        if (!res.ok) {
            const err = new MatrixError(res.status, data?.errcode ?? `HTTP_${res.status}`, data?.error ?? res.statusText, data ?? {});
            if (
                res.status === 401 &&
                !opts.noAuthHandling &&
                (err.errcode === 'M_UNKNOWN_TOKEN' || err.errcode === 'M_MISSING_TOKEN')
            )
                this.onUnauthorized(err);
            if (res.status >= 500 || res.status === 502 || res.status === 503 || res.status === 504)
                throw new NetworkError(`server answered ${res.status}`);
            throw err;
        }
        return data as T;
    }

    // ---- account ----

    static async login(user: string, password: string): Promise<Session> {
        const c = new Client(null);
        const r = await c.request<{ user_id: string; access_token: string; device_id: string }>(
            'POST',
            `${CS}/login`,
            {
                type: 'm.login.password',
                identifier: { type: 'm.id.user', user },
                password,
                initial_device_display_name: 'Balai web',
            },
            { noAuthHandling: true },
        );
        return { userId: r.user_id, accessToken: r.access_token, deviceId: r.device_id };
    }

    logout(): Promise<unknown> {
        return this.request('POST', `${CS}/logout`, {});
    }

    whoami(): Promise<{ user_id: string; device_id?: string }> {
        return this.request('GET', `${CS}/account/whoami`);
    }

    async getDisplayName(userId: string): Promise<string | undefined> {
        const r = await this.request<{ displayname?: string }>('GET', `${CS}/profile/${enc(userId)}/displayname`);
        return r.displayname;
    }

    setDisplayName(name: string): Promise<unknown> {
        return this.request('PUT', `${CS}/profile/${enc(this.userId)}/displayname`, { displayname: name });
    }

    // ---- sync ----

    sync(since: string | null, timeoutMs: number, filter: object, signal?: AbortSignal): Promise<SyncResponse> {
        return this.request<SyncResponse>('GET', `${CS}/sync`, undefined, {
            query: { since: since ?? undefined, timeout: since ? timeoutMs : 0, filter: JSON.stringify(filter) },
            signal,
            timeoutMs: since && timeoutMs ? timeoutMs + 15000 : 8000,
        });
    }

    messages(roomId: string, from: string | null, limit = 30): Promise<MessagesResponse> {
        return this.request('GET', `${CS}/rooms/${enc(roomId)}/messages`, undefined, {
            query: { dir: 'b', from: from ?? undefined, limit, filter: JSON.stringify({ lazy_load_members: true }) },
        });
    }

    relations(roomId: string, eventId: string, relType?: string, from?: string): Promise<{ chunk: MatrixEvent[]; next_batch?: string }> {
        const p = `/_matrix/client/v1/rooms/${enc(roomId)}/relations/${enc(eventId)}` + (relType ? `/${enc(relType)}` : '');
        return this.request('GET', p, undefined, { query: { limit: 100, from, dir: 'b' } });
    }

    getEvent(roomId: string, eventId: string): Promise<MatrixEvent> {
        return this.request('GET', `${CS}/rooms/${enc(roomId)}/event/${enc(eventId)}`);
    }

    // ---- sending ----

    send(roomId: string, type: string, content: object, txnId: string): Promise<{ event_id: string; [k: string]: unknown }> {
        return this.request('PUT', `${CS}/rooms/${enc(roomId)}/send/${enc(type)}/${enc(txnId)}`, content);
    }

    redact(roomId: string, eventId: string, txnId: string): Promise<{ event_id: string }> {
        return this.request('PUT', `${CS}/rooms/${enc(roomId)}/redact/${enc(eventId)}/${enc(txnId)}`, {});
    }

    receipt(roomId: string, eventId: string, threadId?: string): Promise<unknown> {
        return this.request('POST', `${CS}/rooms/${enc(roomId)}/receipt/m.read/${enc(eventId)}`, threadId ? { thread_id: threadId } : {});
    }

    typing(roomId: string, typing: boolean): Promise<unknown> {
        return this.request('PUT', `${CS}/rooms/${enc(roomId)}/typing/${enc(this.userId)}`, typing ? { typing: true, timeout: 20000 } : { typing: false });
    }

    // ---- rooms ----

    join(roomId: string): Promise<{ room_id: string }> {
        return this.request('POST', `${CS}/join/${enc(roomId)}`, {});
    }

    leave(roomId: string): Promise<unknown> {
        return this.request('POST', `${CS}/rooms/${enc(roomId)}/leave`, {});
    }

    createDm(userId: string): Promise<{ room_id: string }> {
        return this.request('POST', `${CS}/createRoom`, {
            preset: 'trusted_private_chat',
            is_direct: true,
            invite: [userId],
        });
    }

    setAccountData(type: string, content: object): Promise<unknown> {
        return this.request('PUT', `${CS}/user/${enc(this.userId)}/account_data/${enc(type)}`, content);
    }

    // ---- directory ----

    async searchPeople(q: string, signal?: AbortSignal): Promise<Person[]> {
        try {
            const r = await this.request<{ results: any[] }>('GET', '/_balai/client/v1/directory', undefined, {
                query: { q, limit: 20 },
                signal,
            });
            return r.results.map((x) => ({
                userId: x.user_id,
                displayName: x.display_name ?? localpart(x.user_id),
                title: x.title,
                unit: x.unit_path ?? x.unit_name,
                guest: !!x.guest,
            }));
        } catch (e) {
            if (!(e instanceof MatrixError) || (e.status !== 404 && e.status !== 405)) throw e;
        }
        const r = await this.request<{ results: any[] }>('POST', `${CS}/user_directory/search`, { search_term: q, limit: 20 }, { signal });
        return r.results.map((x) => ({ userId: x.user_id, displayName: x.display_name ?? localpart(x.user_id) }));
    }
}

export interface Person {
    userId: string;
    displayName: string;
    title?: string;
    unit?: string;
    guest?: boolean;
}
