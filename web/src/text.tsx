// text.tsx: message text rendered safely. Message content is only ever
// rendered as text nodes (never innerHTML; formatted_body is ignored), with
// http(s) links turned into anchors that open in a new tab without a referrer
// or an opener.
import { JSX } from 'preact';

const LINK = /\b(?:https?:\/\/|www\.)[^\s<>"']+/gi;
const TRAILING = /[.,:;!?'")\]]+$/;

export function Linkified({ text }: { text: string }): JSX.Element {
    const out: (string | JSX.Element)[] = [];
    let last = 0;
    let m: RegExpExecArray | null;
    LINK.lastIndex = 0;
    while ((m = LINK.exec(text)) !== null) {
        let url = m[0];
        const trail = TRAILING.exec(url);
        if (trail) url = url.slice(0, url.length - trail[0].length);
        if (!url) continue;
        const href = url.toLowerCase().startsWith('www.') ? `https://${url}` : url;
        let safe: string | null = null;
        try {
            const u = new URL(href);
            if (u.protocol === 'http:' || u.protocol === 'https:') safe = u.href;
        } catch {
            safe = null;
        }
        if (m.index > last) out.push(text.slice(last, m.index));
        if (safe)
            out.push(
                <a href={safe} target="_blank" rel="noopener noreferrer">
                    {url}
                </a>,
            );
        else out.push(url);
        last = m.index + url.length;
        LINK.lastIndex = last;
    }
    if (last < text.length) out.push(text.slice(last));
    return <>{out}</>;
}

/** Drops the "> <@user> quoted" fallback that some clients put before a reply. */
export function stripReplyFallback(body: string): string {
    if (!body.startsWith('> ')) return body;
    const lines = body.split('\n');
    let i = 0;
    while (i < lines.length && lines[i].startsWith('>')) i++;
    if (i < lines.length && lines[i] === '') i++;
    return lines.slice(i).join('\n');
}
