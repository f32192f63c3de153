// lib.mjs: shared helpers of the browser tests: Debian's chromium driven by
// playwright-core, a page per user logged in to the real `balai serve` that
// the test started (tests/api/lib/server.mjs), screenshots under the test
// output folder ($BALAI_TEST_OUTPUT/e2e, default build/test-output/e2e).
import { before, after } from 'node:test';
import fs from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, SLOW } from '../api/lib/server.mjs';

export const CHROMIUM = process.env.BALAI_CHROMIUM || '/usr/bin/chromium';
export const OUT = path.join(process.env.BALAI_TEST_OUTPUT || path.join(REPO, 'build/test-output'), 'e2e');
// Every wait is bounded by this (playwright's default for actions and expectations).
export const WAIT_MS = 10000 * SLOW;

// Launches one browser for the describe() block that calls it; closes it after.
export function useBrowser() {
    const state = { browser: null };
    before(async () => {
        await fs.mkdir(OUT, { recursive: true });
        state.browser = await chromium.launch({
            executablePath: CHROMIUM,
            args: [
                '--no-sandbox',
                '--disable-gpu',
                '--disable-background-networking',
                '--disable-component-update',
                '--disable-sync',
                '--no-first-run',
                '--disable-dev-shm-usage',
            ],
            timeout: 30000 * SLOW,
        });
    });
    after(async () => {
        await state.browser?.close();
    });
    return state;
}

// A new browser context (its own cookies and localStorage: a separate
// "browser") with one page, errors of the page collected in page.errors.
export async function newPage(browser, { locale = 'en-US', viewport = { width: 1280, height: 800 }, ...rest } = {}) {
    const context = await browser.newContext({ locale, viewport, ...rest });
    context.setDefaultTimeout(WAIT_MS);
    const page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
    // console errors, except the browser's own line for each non-2xx answer
    // (expected ones: a wrong password, a 403 while probing admin rights)
    page.on('console', (m) => {
        if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) page.errors.push(m.text());
    });
    return page;
}

// Opens the app and logs in through the login form; waits for the chat list.
export async function login(page, srv, user, password) {
    await page.goto(`${srv.url}/`);
    await page.getByLabel('User name').fill(user);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Chats' }).waitFor();
}

export async function shot(page, name) {
    await page.screenshot({ path: path.join(OUT, `${name}.png`), fullPage: false });
}

// Resolves when fn() is truthy; throws after ms.
export async function until(fn, what, ms = WAIT_MS) {
    const end = Date.now() + ms;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}
