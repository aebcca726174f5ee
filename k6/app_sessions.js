// App sessions: ~20 s, 3 VUs. Each iteration is one session of the order-ahead app: it opens the
// app, looks at the menu and products, and drops off on the way (a third bounce) or adds to its
// cart, checks out and places an order (`POST /orders/new`), then posts its events to
// `POST /events` in one batch, and sometimes twice (a phone retrying): the second answer must
// count every event as a duplicate. Fails (non-zero exit) when a threshold is missed.
//
//   k6 run --env API_URL=http://127.0.0.1:8000 k6/app_sessions.js
import http from 'k6/http';
import { check, sleep } from 'k6';
import { API, pick, postJson, randomItems } from './lib.js';

export const options = {
  scenarios: {
    app: { executor: 'constant-vus', vus: 3, duration: __ENV.APP_DURATION || '20s' },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],
    checks: ['rate>0.99'],
    'http_reqs{name:POST /events}': ['count>20'],
  },
};

export function setup() {
  const res = http.get(`${API}/catalog`);
  if (res.status !== 200) throw new Error(`GET /catalog answered ${res.status}: ${res.body}`);
  const catalog = res.json();
  if (!catalog.products.length || !catalog.customer_ids.length || !catalog.stores.length) {
    throw new Error('the catalogue is empty: run `brewlytics seed` first');
  }
  return { productIds: catalog.products.map((p) => p.id), customerIds: catalog.customer_ids, stores: catalog.stores };
}

// A random version 4 UUID.
function uuid() {
  const hex = [...Array(32)].map(() => Math.floor(Math.random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = (8 + Math.floor(Math.random() * 4)).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export default function (data) {
  const store = pick(data.stores);
  const customer = pick(data.customerIds);
  const kinds = [{ type: 'session_start' }];
  const reach = Math.random();
  if (reach > 0.3) kinds.push({ type: 'menu_view' });
  const items = randomItems(data.productIds, 3, 2);
  if (reach > 0.5) items.forEach((i) => kinds.push({ type: 'product_view', product_id: i.product_id }));
  if (reach > 0.7) items.forEach((i) => kinds.push({ type: 'add_to_cart', product_id: i.product_id, quantity: i.quantity }));
  if (reach > 0.8) kinds.push({ type: 'checkout_start' });
  if (reach > 0.85) {
    const order = postJson('/orders/new', { customer_id: customer, employee_id: pick(store.employee_ids), store_id: store.id, items });
    if (check(order, { 'order placed': (r) => r.status === 200 && r.json('order_id') > 0 })) {
      kinds.push({ type: 'order_placed', order_id: order.json('order_id') });
    }
  }
  const start = Date.now() - 5000 * kinds.length;
  const events = kinds.map((e, i) => Object.assign({ event_id: i, at: new Date(start + 5000 * i).toISOString() }, e));
  const body = { session_id: uuid(), store_id: store.id, customer_id: customer, events };
  const first = postJson('/events', body);
  check(first, { 'events stored': (r) => r.status === 200 && r.json('accepted') === events.length && r.json('duplicates') === 0 });
  if (Math.random() < 0.2) {
    const retry = postJson('/events', body);
    check(retry, { 'a retry stores nothing twice': (r) => r.status === 200 && r.json('accepted') === 0 && r.json('duplicates') === events.length });
  }
  sleep(0.2);
}
