// raw.mjs: HTTP/1.1 over a bare TCP socket, for what fetch cannot send:
// pipelining, chunked uploads, malformed requests, slow clients.

import net from 'node:net';

export class RawConn {
    constructor(sock) {
        this.sock = sock;
        this.buf = Buffer.alloc(0);
        this.closed = false;
        this.error = null;
        this.waiters = [];
        sock.on('data', (d) => {
            this.buf = Buffer.concat([this.buf, d]);
            this.wake();
        });
        sock.on('error', (e) => {
            this.error = e;
        });
        sock.on('close', () => {
            this.closed = true;
            this.wake();
        });
    }

    static open(host, port, { timeoutMs = 10000 } = {}) {
        return new Promise((resolve, reject) => {
            const sock = net.connect({ host, port });
            const timer = setTimeout(() => {
                sock.destroy();
                reject(new Error(`connect to ${host}:${port} timed out`));
            }, timeoutMs);
            sock.once('connect', () => {
                clearTimeout(timer);
                sock.setNoDelay(true);
                resolve(new RawConn(sock));
            });
            sock.once('error', (e) => {
                clearTimeout(timer);
                reject(e);
            });
        });
    }

    static forServer(srv, opts) {
        return RawConn.open(srv.host, srv.port, opts);
    }

    wake() {
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
    }

    // Resolves on the next data or close, or after ms.
    waitEvent(ms) {
        return new Promise((resolve) => {
            const timer = setTimeout(resolve, ms);
            this.waiters.push(() => {
                clearTimeout(timer);
                resolve();
            });
        });
    }

    // Writes; resolves when handed to the kernel. Errors (the peer closed)
    // resolve to false instead of throwing.
    write(data) {
        return new Promise((resolve) => {
            if (this.closed || this.sock.destroyed) return resolve(false);
            this.sock.write(data, (err) => resolve(!err));
        });
    }

    // Reads one complete response. Throws on timeout or when the connection
    // closes before a complete response arrived.
    async readResponse({ timeoutMs = 10000, head = false } = {}) {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const parsed = parseResponse(this.buf, { closed: this.closed, head });
            if (parsed) {
                this.buf = this.buf.subarray(parsed.consumed);
                return parsed.response;
            }
            if (this.closed) {
                throw new Error(
                    `connection closed before a complete response (have ${this.buf.length} bytes: ` +
                        `${JSON.stringify(this.buf.toString('latin1').slice(0, 200))})`,
                );
            }
            const left = deadline - Date.now();
            if (left <= 0) {
                throw new Error(
                    `no complete response within ${timeoutMs} ms (have ${this.buf.length} bytes: ` +
                        `${JSON.stringify(this.buf.toString('latin1').slice(0, 200))})`,
                );
            }
            await this.waitEvent(left);
        }
    }

    // Resolves true when the peer closes within ms, false otherwise.
    async waitClose(ms) {
        const deadline = Date.now() + ms;
        while (!this.closed) {
            const left = deadline - Date.now();
            if (left <= 0) return false;
            await this.waitEvent(left);
        }
        return true;
    }

    destroy() {
        this.sock.destroy();
    }

    // Abortive close (TCP RST).
    reset() {
        if (typeof this.sock.resetAndDestroy === 'function') this.sock.resetAndDestroy();
        else this.sock.destroy();
    }
}

// Parses one HTTP/1.x response at the start of buf. Returns
// {response: {status, reason, headers (lower-case names), body (string), bodyBuf}, consumed}
// or null when incomplete. A body without length ends at close.
export function parseResponse(buf, { closed = false, head = false } = {}) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return null;
    const headText = buf.subarray(0, end).toString('latin1');
    const lines = headText.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]);
    if (!m) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
    const status = Number(m[1]);
    const headers = {};
    for (const line of lines.slice(1)) {
        const i = line.indexOf(':');
        if (i < 0) throw new Error(`bad header line ${JSON.stringify(line)}`);
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    let pos = end + 4;
    let body;
    const noBody = head || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
        body = Buffer.alloc(0);
    } else if ((headers['transfer-encoding'] || '').toLowerCase().includes('chunked')) {
        const parts = [];
        for (;;) {
            const le = buf.indexOf('\r\n', pos);
            if (le < 0) return null;
            const size = parseInt(buf.subarray(pos, le).toString('latin1').split(';')[0], 16);
            if (Number.isNaN(size)) throw new Error('bad chunk size');
            pos = le + 2;
            if (size === 0) {
                // trailers until an empty line
                for (;;) {
                    const te = buf.indexOf('\r\n', pos);
                    if (te < 0) return null;
                    const empty = te === pos;
                    pos = te + 2;
                    if (empty) break;
                }
                break;
            }
            if (buf.length < pos + size + 2) return null;
            parts.push(buf.subarray(pos, pos + size));
            pos += size + 2;
        }
        body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
        const n = Number(headers['content-length']);
        if (buf.length < pos + n) return null;
        body = buf.subarray(pos, pos + n);
        pos += n;
    } else {
        if (!closed) return null;
        body = buf.subarray(pos);
        pos = buf.length;
    }
    const text = body.toString('utf8');
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return {
        response: { status, reason: m[2] ?? '', headers, body: text, bodyBuf: body, json, text },
        consumed: pos,
    };
}

// Builds a request. headers: object or array of [name, value]; body: string/Buffer.
export function httpRequest(method, path, { headers = {}, body, host = 'balai.test' } = {}) {
    const list = Array.isArray(headers) ? headers : Object.entries(headers);
    const names = list.map(([k]) => k.toLowerCase());
    let head = `${method} ${path} HTTP/1.1\r\n`;
    if (!names.includes('host')) head += `Host: ${host}\r\n`;
    for (const [k, v] of list) head += `${k}: ${v}\r\n`;
    const b = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
    if (b && !names.includes('content-length') && !names.includes('transfer-encoding'))
        head += `Content-Length: ${b.length}\r\n`;
    head += '\r\n';
    return b ? Buffer.concat([Buffer.from(head, 'latin1'), b]) : Buffer.from(head, 'latin1');
}

// Encodes body parts as a chunked transfer body.
export function chunked(parts) {
    let out = '';
    for (const p of parts) out += `${Buffer.byteLength(p).toString(16)}\r\n${p}\r\n`;
    return out + '0\r\n\r\n';
}

// One request on a fresh connection; resolves the response.
export async function rawRoundTrip(srv, bytes, { timeoutMs = 10000 } = {}) {
    const c = await RawConn.forServer(srv);
    try {
        await c.write(bytes);
        return await c.readResponse({ timeoutMs });
    } finally {
        c.destroy();
    }
}
