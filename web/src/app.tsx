// app.tsx: the app shell: login, the session (kept in localStorage), the
// top bar, the chat layout, settings, and the admin console (a separate
// chunk, loaded when first opened).
import { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { DlpDialog, DmDialog, RoomList, RoomView, ThreadPanel } from './chat';
import { NewRoomDialog } from './rooms';
import { useLang, useRoute, useStore } from './hooks';
import { lang, setLang, t } from './i18n';
import { Client, MatrixError, NetworkError, localpart } from './matrix';
import { current, linkClick, navigate } from './router';
import { Store, loadSession, saveSession } from './store';

let store: Store | null = null;
let expiredNotice = false;

function startSession(): Store | null {
    const s = loadSession();
    if (!s) return null;
    const st = new Store(s, (expired) => {
        saveSession(null);
        store = null;
        expiredNotice = expired;
        navigate('/login', true);
        rerenderApp();
    });
    st.start();
    return st;
}

let rerenderApp: () => void = () => {};

export function App() {
    useLang();
    useRoute();
    const [, setTick] = useState(0);
    rerenderApp = () => setTick((x) => x + 1);
    if (!store) store = startSession();
    const route = current();

    useEffect(() => {
        document.documentElement.lang = lang();
    });

    // Redirects while rendering only rewrite the address (no route event).
    if (!store) {
        if (route.name !== 'login') history.replaceState(null, '', '/login');
        return <Login onLoggedIn={() => rerenderApp()} />;
    }
    if (route.name === 'login') history.replaceState(null, '', '/rooms');
    return <Shell store={store} />;
}

function LangSwitch() {
    return (
        <button class="btn small lang" onClick={() => setLang(lang() === 'en' ? 'id' : 'en')} lang={lang() === 'en' ? 'id' : 'en'}>
            {t('lang.switch')}
        </button>
    );
}

function Login({ onLoggedIn }: { onLoggedIn: () => void }) {
    const [user, setUser] = useState('');
    const [password, setPassword] = useState('');
    const [busy, setBusy] = useState(false);
    const [error, setError] = useState<string | null>(expiredNotice ? t('login.expired') : null);

    const submit = async (e: Event) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
            const s = await Client.login(user.trim(), password);
            saveSession(s);
            expiredNotice = false;
            store = startSession();
            navigate('/rooms', true);
            onLoggedIn();
        } catch (err) {
            setBusy(false);
            if (err instanceof MatrixError) {
                if (err.errcode === 'M_FORBIDDEN' && /deactivat/i.test(err.message)) setError(t('login.deactivated'));
                else if (err.errcode === 'M_FORBIDDEN' || err.errcode === 'M_INVALID_USERNAME' || err.status === 401) setError(t('login.failed'));
                else if (err.errcode === 'M_LIMIT_EXCEEDED') setError(t('login.limited'));
                else setError(t('login.error', { msg: err.message }));
            } else setError(t('login.error', { msg: (err as Error).message }));
        }
    };

    return (
        <main class="login">
            <form class="card login-card" onSubmit={submit}>
                <div class="brand">
                    <span class="logo" aria-hidden="true" />
                    <h1>{t('login.title')}</h1>
                </div>
                <label class="field">
                    <span>{t('login.user')}</span>
                    <input
                        class="input"
                        name="username"
                        autocomplete="username"
                        autocapitalize="none"
                        spellcheck={false}
                        required
                        value={user}
                        onInput={(e) => setUser((e.target as HTMLInputElement).value)}
                    />
                </label>
                <label class="field">
                    <span>{t('login.password')}</span>
                    <input
                        class="input"
                        name="password"
                        type="password"
                        autocomplete="current-password"
                        required
                        value={password}
                        onInput={(e) => setPassword((e.target as HTMLInputElement).value)}
                    />
                </label>
                {error && (
                    <p class="error" role="alert">
                        {error}
                    </p>
                )}
                <button class="btn primary wide" type="submit" disabled={busy}>
                    {busy ? t('login.busy') : t('login.submit')}
                </button>
                <div class="login-foot">
                    <LangSwitch />
                </div>
            </form>
        </main>
    );
}

function OfflineBanner({ store }: { store: Store }) {
    if (store.online) return null;
    return (
        <div class="offline" role="status">
            {t('offline.notice')}
        </div>
    );
}

function Toast({ store }: { store: Store }) {
    if (!store.notice) return null;
    const text = store.notice === 'masked' ? t('msg.masked') : t('error.generic', { msg: store.notice });
    return (
        <div class="toast" role="status">
            <span>{text}</span>
            <button
                class="btn small"
                onClick={() => {
                    store.notice = null;
                    store.changed();
                }}
                aria-label="OK"
            >
                OK
            </button>
        </div>
    );
}

type AdminModule = { Admin: ComponentType<{ store: Store; section?: string }> };
let adminModule: AdminModule | null = null;

function AdminLoader({ store, section }: { store: Store; section?: string }) {
    const [mod, setMod] = useState<AdminModule | null>(adminModule);
    const [error, setError] = useState<string | null>(null);
    useEffect(() => {
        if (mod) return;
        import('./admin')
            .then((m) => {
                adminModule = m;
                setMod(m);
            })
            .catch((e) => setError((e as Error).message));
    }, []);
    if (error) return <p class="error pad">{t('error.generic', { msg: error })}</p>;
    if (!mod) return <p class="muted pad">{t('app.loading')}</p>;
    return <mod.Admin store={store} section={section} />;
}

function NavLink({ path, label, active }: { path: string; label: string; active: boolean }) {
    return (
        <a href={path} class={`nav-link${active ? ' active' : ''}`} aria-current={active ? 'page' : undefined} onClick={(e) => linkClick(e as unknown as MouseEvent, path)}>
            {label}
        </a>
    );
}

function Shell({ store }: { store: Store }) {
    useStore(store);
    const route = current();
    const [dm, setDm] = useState(false);
    const [newRoom, setNewRoom] = useState(false);
    const showAdmin = !!store.admin && Object.entries(store.admin).some(([k, v]) => k !== 'role' && v === true);

    let body;
    if (route.name === 'settings') body = <Settings store={store} />;
    else if (route.name === 'admin') body = <AdminLoader store={store} section={route.section} />;
    else {
        const room = route.name === 'rooms' && route.roomId ? store.rooms.get(route.roomId) : undefined;
        const threadId = route.name === 'rooms' ? route.threadId : undefined;
        body = (
            <div class={`chat${room ? ' has-room' : ''}${room && threadId ? ' has-thread' : ''}`}>
                <RoomList store={store} activeId={room?.id} onNewDm={() => setDm(true)} onNewRoom={() => setNewRoom(true)} />
                {room ? (
                    <RoomView store={store} room={room} threadId={threadId} />
                ) : (
                    <section class="room empty">
                        <p class="muted">{store.initialSyncDone ? t('rooms.pick') : t('app.loading')}</p>
                    </section>
                )}
                {room && threadId && <ThreadPanel store={store} room={room} rootId={threadId} />}
            </div>
        );
    }

    return (
        <div class="shell">
            <header class="topbar">
                <a class="brand-link" href="/rooms" onClick={(e) => linkClick(e as unknown as MouseEvent, '/rooms')}>
                    <span class="logo" aria-hidden="true" />
                    <span>{t('app.name')}</span>
                </a>
                <nav class="topnav" aria-label={t('nav.menu')}>
                    <NavLink path="/rooms" label={t('nav.chats')} active={route.name === 'rooms'} />
                    {showAdmin && <NavLink path="/admin" label={t('nav.admin')} active={route.name === 'admin'} />}
                    <NavLink path="/settings" label={t('nav.settings')} active={route.name === 'settings'} />
                </nav>
            </header>
            <OfflineBanner store={store} />
            <main class="content">{body}</main>
            {dm && <DmDialog store={store} onClose={() => setDm(false)} />}
            {newRoom && <NewRoomDialog store={store} onClose={() => setNewRoom(false)} />}
            <DlpDialog store={store} />
            <Toast store={store} />
        </div>
    );
}

function Settings({ store }: { store: Store }) {
    const [name, setName] = useState(store.displayName ?? '');
    const [status, setStatus] = useState<string | null>(null);
    useEffect(() => {
        if (store.displayName && !name) setName(store.displayName);
    }, [store.displayName]);
    return (
        <div class="page">
            <h1>{t('settings.title')}</h1>
            <section class="card">
                <h2>{t('settings.profile')}</h2>
                <form
                    onSubmit={async (e) => {
                        e.preventDefault();
                        try {
                            await store.setDisplayName(name.trim());
                            setStatus(t('settings.saved'));
                        } catch (err) {
                            setStatus(t('error.generic', { msg: err instanceof NetworkError ? t('offline.notice') : (err as Error).message }));
                        }
                    }}
                >
                    <label class="field">
                        <span>{t('settings.display_name')}</span>
                        <input class="input" value={name} maxLength={256} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
                    </label>
                    <button class="btn primary" type="submit" disabled={!name.trim()}>
                        {t('settings.save')}
                    </button>
                    {status && (
                        <span class="status" role="status">
                            {' '}
                            {status}
                        </span>
                    )}
                </form>
            </section>
            <section class="card">
                <h2>{t('settings.language')}</h2>
                <p>
                    {t('lang.name')} <LangSwitch />
                </p>
            </section>
            <section class="card">
                <h2>{t('settings.account')}</h2>
                <dl class="kv">
                    <dt>{t('settings.user_id')}</dt>
                    <dd>{store.session.userId}</dd>
                    <dt>{t('settings.device')}</dt>
                    <dd>{store.session.deviceId}</dd>
                </dl>
                <button class="btn danger" onClick={() => store.logout()}>
                    {t('nav.logout')} ({localpart(store.session.userId)})
                </button>
            </section>
        </div>
    );
}
