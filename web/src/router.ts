// router.ts: the app's client-side routes (pathname based). The server
// answers index.html for each of them (src/api/web.c, app_routes): keep the
// two lists in step.
//
//   /login                              the login screen
//   /rooms, /rooms/ROOM                 chats; a room
//   /rooms/ROOM/thread/EVENT            a room with a thread open
//   /settings                           profile, language
//   /admin, /admin/SECTION              the admin console

export type Route =
    | { name: 'login' }
    | { name: 'rooms'; roomId?: string; threadId?: string }
    | { name: 'settings' }
    | { name: 'admin'; section?: string };

export function parse(pathname: string): Route {
    const parts = pathname.split('/').filter(Boolean).map((p) => {
        try {
            return decodeURIComponent(p);
        } catch {
            return p;
        }
    });
    switch (parts[0]) {
        case 'login':
            return { name: 'login' };
        case 'settings':
            return { name: 'settings' };
        case 'admin':
            return { name: 'admin', section: parts[1] };
        case 'rooms':
            return { name: 'rooms', roomId: parts[1], threadId: parts[2] === 'thread' ? parts[3] : undefined };
        default:
            return { name: 'rooms' };
    }
}

export function roomPath(roomId: string, threadId?: string): string {
    return `/rooms/${encodeURIComponent(roomId)}` + (threadId ? `/thread/${encodeURIComponent(threadId)}` : '');
}

const listeners = new Set<() => void>();

export function current(): Route {
    return parse(location.pathname);
}

export function navigate(path: string, replace = false): void {
    if (path === location.pathname) return;
    if (replace) history.replaceState(null, '', path);
    else history.pushState(null, '', path);
    for (const f of listeners) f();
}

export function onRouteChange(f: () => void): () => void {
    listeners.add(f);
    return () => listeners.delete(f);
}

window.addEventListener('popstate', () => {
    for (const f of listeners) f();
});

/** Click handler for in-app links: no page load. */
export function linkClick(e: MouseEvent, path: string): void {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(path);
}
