// hooks.ts: re-rendering on store, language and route changes.
import { useEffect, useReducer } from 'preact/hooks';
import { onLangChange } from './i18n';
import { onRouteChange } from './router';
import type { Store } from './store';

export function useForceUpdate(): () => void {
    const [, bump] = useReducer((x: number) => x + 1, 0);
    return bump as () => void;
}

/** Re-renders the component whenever the store changes. */
export function useStore(store: Store | null): void {
    const bump = useForceUpdate();
    useEffect(() => (store ? store.subscribe(bump) : undefined), [store]);
}

export function useLang(): void {
    const bump = useForceUpdate();
    useEffect(() => onLangChange(bump), []);
}

export function useRoute(): void {
    const bump = useForceUpdate();
    useEffect(() => onRouteChange(bump), []);
}
