// Smoke test: ~20 s, 3 VUs. Orders with real ids from GET /catalog, random orders placed by the
// server, and status changes. Fails (non-zero exit) when a threshold is missed.
//
//   k6 run --env API_URL=http://127.0.0.1:8000 k6/smoke.js
import http from 'k6/http';
import { check, sleep } from 'k6';
import { API, pick, postJson, randomItems } from './lib.js';

export const options = {
  scenarios: {
    smoke: { executor: 'constant-vus', vus: 3, duration: __ENV.SMOKE_DURATION || '20s' },
  },
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],
    checks: ['rate>0.99'],
    'http_reqs{name:POST /orders/new}': ['count>5'],
    'http_reqs{name:POST /orders/random}': ['count>5'],
    'http_reqs{name:POST /orders/{id}/status}': ['count>5'],
  },
};

export function setup() {
  const res = http.get(`${API}/catalog`);
  if (res.status !== 200) throw new Error(`GET /catalog answered ${res.status}: ${res.body}`);
  const catalog = res.json();
  if (!catalog.products.length || !catalog.customer_ids.length || !catalog.stores.length) {
    throw new Error('the catalogue is empty: run `brewlytics seed` first');
  }
  return {
    productIds: catalog.products.map((p) => p.id),
    customerIds: catalog.customer_ids,
    stores: catalog.stores,
  };
}

export default function (data) {
  const store = pick(data.stores);
  const order = postJson('/orders/new', {
    customer_id: pick(data.customerIds),
    employee_id: pick(store.employee_ids),
    store_id: store.id,
    items: randomItems(data.productIds, 3, 2),
  });
  const placed = check(order, {
    'order placed': (r) => r.status === 200 && r.json('order_id') > 0 && r.json('status') === 'placed',
  });

  const random = postJson('/orders/random', null);
  check(random, { 'random order placed': (r) => r.status === 200 && r.json('items.#') >= 1 });

  if (placed) {
    const id = order.json('order_id');
    const served = postJson(`/orders/${id}/status`, { status: 'served' }, 'POST /orders/{id}/status');
    check(served, { 'order served': (r) => r.status === 200 && r.json('status') === 'served' });
    const read = http.get(`${API}/orders/${id}`, { tags: { name: 'GET /orders/{id}' } });
    check(read, { 'order read back': (r) => r.status === 200 && r.json('payments.#') === 1 });
  }
  sleep(0.2);
}
