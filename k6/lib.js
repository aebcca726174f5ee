// Shared helpers of the k6 scripts.
import http from 'k6/http';

export const API = (__ENV.API_URL || 'http://127.0.0.1:8000').replace(/\/$/, '');

// The API key of an API started with API_KEY: from __ENV.API_KEY, or the file named by
// __ENV.API_KEY_FILE (compose secret); none = writes are sent without it.
const KEY = __ENV.API_KEY || (__ENV.API_KEY_FILE ? open(__ENV.API_KEY_FILE).replace(/\r?\n$/, '') : '');

export function pick(list) {
  return list[Math.floor(Math.random() * list.length)];
}

// POST JSON, tagged with a route name so metrics group by route rather than by URL.
export function postJson(path, body, name) {
  return http.post(`${API}${path}`, body === null ? null : JSON.stringify(body), {
    headers: KEY ? { 'Content-Type': 'application/json', Authorization: `Bearer ${KEY}` } : { 'Content-Type': 'application/json' },
    tags: { name: name || `POST ${path}` },
  });
}

// 1 to `max` distinct products, each with a quantity from 1 to `maxQty`.
export function randomItems(productIds, max, maxQty) {
  const count = 1 + Math.floor(Math.random() * Math.min(max, productIds.length));
  const chosen = new Set();
  while (chosen.size < count) chosen.add(pick(productIds));
  return [...chosen].map((id) => ({ product_id: id, quantity: 1 + Math.floor(Math.random() * maxQty) }));
}
