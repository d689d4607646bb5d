// The page on an engine whose API needs a token (http.auth_token) over HTTPS with a
// self-signed certificate, in Debian's chromium driven by playwright-core. Run by
// tests/integration/http_security_test.py:   node token_page.mjs BASE_URL TOKEN
// The page asks for the token when the API answers 401, sends it once given, and the
// at-risk list fills; the token never appears in a URL. Exit 0 = passed.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { chromium } = createRequire(path.join(root, 'web') + '/')('playwright-core');
const [base, token] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const urls = [];
  page.on('request', (r) => urls.push(r.url()));
  await page.goto(base + '/');
  await page.waitForSelector('[data-testid=token-form]:not([hidden])', { timeout: 15000 });
  assert.equal(await page.locator('[data-testid=at-risk-list] .row').count(), 0);
  await page.fill('[data-testid=token]', token);
  await page.press('[data-testid=token]', 'Enter');
  await page.waitForSelector('[data-testid=at-risk-list] .row, [data-testid=at-risk-list] .none', { timeout: 15000 });
  assert.ok(await page.locator('[data-testid=token-form]').isHidden());
  assert.ok(urls.every((u) => !u.includes(token)), 'the token is never in a URL');
  console.log('token page: ok');
} finally {
  await browser.close();
}
