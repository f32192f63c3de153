// build.mjs: bundles the web app into dist/ (served by `balai serve`).
//
//   node build.mjs          dist/index.html + dist/assets/app-HASH.{js,css} + .gz of each
//   node build.mjs --size   the same, then prints the gzipped sizes (exit 1 over budget)
//   node build.mjs --watch  rebuilds on change (development)
//
// Hashed names let the server cache assets for a year; index.html (revalidated
// on every load) names them. The .gz files are what the server sends to
// browsers that accept gzip (it never compresses on the fly).
import * as esbuild from 'esbuild';
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const BUDGET = 200 * 1024; // gzipped bytes, JS + CSS of the employee app

const args = new Set(process.argv.slice(2));

const options = {
    absWorkingDir: here,
    entryPoints: { app: 'src/main.tsx' },
    bundle: true,
    format: 'esm',
    splitting: true, // the admin console is a separate chunk, loaded on demand
    outdir: path.join(dist, 'assets'),
    entryNames: '[name]-[hash]',
    chunkNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    minify: !args.has('--watch'),
    sourcemap: false,
    target: ['es2020'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    metafile: true,
    legalComments: 'none',
    external: ['/favicon.svg'],
    logLevel: 'warning',
    define: { 'process.env.NODE_ENV': '"production"' },
};

function indexHtml(js, css, preload) {
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<meta name="color-scheme" content="light">
<meta name="theme-color" content="#0f5f5c">
<title>Balai</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
${css.map((c) => `<link rel="stylesheet" href="/assets/${c}">`).join('\n')}
${preload.map((c) => `<link rel="modulepreload" href="/assets/${c}">`).join('\n')}
<script type="module" src="/assets/${js}"></script>
</head>
<body>
<div id="app"><noscript>Balai needs JavaScript. / Balai memerlukan JavaScript.</noscript></div>
</body>
</html>
`;
}

const FAVICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#0f5f5c"/><path d="M6 15 16 7l10 8v10H6z" fill="#fff"/><rect x="13" y="18" width="6" height="7" fill="#0f5f5c"/></svg>
`;

async function gzipAll(dir) {
    for (const name of await fs.readdir(dir, { withFileTypes: true })) {
        const p = path.join(dir, name.name);
        if (name.isDirectory()) await gzipAll(p);
        else if (/\.(js|css|html|svg|json)$/.test(name.name)) {
            const data = await fs.readFile(p);
            await fs.writeFile(p + '.gz', zlib.gzipSync(data, { level: 9 }));
        }
    }
}

async function writeDist(result) {
    const outputs = Object.entries(result.metafile.outputs);
    const entry = outputs.find(([, o]) => o.entryPoint === 'src/main.tsx');
    if (!entry) throw new Error('no entry output');
    const js = path.basename(entry[0]);
    const css = outputs.filter(([f]) => f.endsWith('.css')).map(([f]) => path.basename(f));
    const preload = entry[1].imports.filter((i) => i.kind === 'import-statement').map((i) => path.basename(i.path));
    await fs.writeFile(path.join(dist, 'index.html'), indexHtml(js, css, preload));
    await fs.writeFile(path.join(dist, 'favicon.svg'), FAVICON);
    await gzipAll(dist);
    return { js, css, outputs };
}

async function sizes(outputs) {
    // The employee app: the entry and its static imports (not the lazy admin chunk).
    const byName = new Map(outputs.map(([f, o]) => [path.basename(f), o]));
    const entry = outputs.find(([, o]) => o.entryPoint === 'src/main.tsx');
    const seen = new Set();
    const walk = (name) => {
        if (seen.has(name)) return;
        seen.add(name);
        for (const imp of byName.get(name)?.imports ?? [])
            if (imp.kind === 'import-statement') walk(path.basename(imp.path));
    };
    walk(path.basename(entry[0]));
    for (const [f] of outputs) if (f.endsWith('.css')) seen.add(path.basename(f));
    let employee = 0;
    let all = 0;
    const lines = [];
    for (const [f] of outputs) {
        const name = path.basename(f);
        const gz = (await fs.stat(path.join(dist, 'assets', name + '.gz'))).size;
        const raw = (await fs.stat(path.join(dist, 'assets', name))).size;
        all += gz;
        if (seen.has(name)) employee += gz;
        lines.push(`  ${name.padEnd(32)} ${String(raw).padStart(8)} B  ${String(gz).padStart(7)} B gzipped${seen.has(name) ? '' : '  (loaded on demand)'}`);
    }
    console.log(lines.join('\n'));
    console.log(`employee app: ${employee} B gzipped (budget ${BUDGET} B); everything: ${all} B gzipped`);
    return employee;
}

async function main() {
    await fs.rm(dist, { recursive: true, force: true });
    await fs.mkdir(path.join(dist, 'assets'), { recursive: true });
    if (args.has('--watch')) {
        const ctx = await esbuild.context({
            ...options,
            plugins: [
                {
                    name: 'dist',
                    setup(b) {
                        b.onEnd(async (r) => {
                            if (r.errors.length === 0) {
                                await writeDist(r);
                                console.log('web: rebuilt (restart balai serve to pick it up)');
                            }
                        });
                    },
                },
            ],
        });
        await ctx.watch();
        return;
    }
    const result = await esbuild.build(options);
    const { outputs } = await writeDist(result);
    if (args.has('--size')) {
        const employee = await sizes(outputs);
        if (employee > BUDGET) {
            console.error(`web: the employee app is over budget (${employee} > ${BUDGET} bytes gzipped)`);
            process.exit(1);
        }
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
