// The original Brewlytics load profile (a lunchtime rush): ramping VUs 1m→10, 2m→30, 2m→50,
// 30s→0, each VU placing an order a second, now with thresholds.
//
//   k6 run --env API_URL=http://127.0.0.1:8000 k6/rush.js
//
// setup() creates 10 customers and 10 products through the API, like the original; emails carry
// a run id so that repeated runs do not collide with the unique email constraint.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { API, pick, postJson, randomItems } from './lib.js';

export const options = {
  stages: [
    { duration: '1m', target: 10 },
    { duration: '2m', target: 30 },
    { duration: '2m', target: 50 },
    { duration: '30s', target: 0 },
  ],
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<500'],
  },
};

const FIRST = ['Alice', 'Bob', 'Priya', 'John', 'Maria', 'Wei', 'Ahmed', 'Olivia', 'Carlos', 'Nina'];
const LAST = ['Smith', 'Patel', 'Garcia', 'Jones', 'Khan', 'Kim', 'Chen', 'Brown', 'Singh', 'Davis'];
const SIZES = ['Small', 'Medium', 'Large'];
const BASES = ['Espresso', 'Latte', 'Cappuccino', 'Flat White', 'Mocha', 'Cold Brew', 'Chai Latte', 'Americano',
  'Cortado', 'Macchiato'];
const RUN = Date.now().toString(36);

function newCustomer(tag) {
  const first = pick(FIRST);
  const last = pick(LAST);
  const email = `${first}.${last}.${tag}.${RUN}@example.com`.toLowerCase();
  const res = postJson('/customers/new', { name: `${first} ${last}`, email });
  return res.status === 200 ? res.json('id') : null;
}

function newProduct() {
  const price = +(Math.random() * 5 + 2).toFixed(2);
  const res = postJson('/products/new', { name: `${pick(SIZES)} ${pick(BASES)}`, price });
  return res.status === 200 ? res.json('id') : null;
}

export function setup() {
  const customerIds = [];
  const productIds = [];
  for (let i = 0; customerIds.length < 10 && i < 50; i++) {
    const id = newCustomer(`setup${i}`);
    if (id) customerIds.push(id);
  }
  for (let i = 0; productIds.length < 10 && i < 50; i++) {
    const id = newProduct();
    if (id) productIds.push(id);
  }
  const staff = http.get(`${API}/employees/active`);
  const employees = staff.status === 200 ? staff.json() : [];
  if (customerIds.length < 10 || productIds.length < 10 || employees.length === 0) {
    throw new Error('setup failed: is the API up and seeded (`brewlytics seed`)?');
  }
  return { customerIds, productIds, employees };
}

export default function (data) {
  if (Math.random() < 0.05) {
    const id = newCustomer(`vu${__VU}i${__ITER}`);
    if (id) data.customerIds.push(id);
  }
  if (Math.random() < 0.05) {
    const id = newProduct();
    if (id) data.productIds.push(id);
  }
  const employee = pick(data.employees);
  const res = postJson('/orders/new', {
    customer_id: pick(data.customerIds),
    employee_id: employee.id,
    store_id: employee.store_id,
    items: randomItems(data.productIds, 3, 5),
  });
  const ok = check(res, {
    'status is 200': (r) => r.status === 200,
    'has order_id': (r) => r.status === 200 && r.json('order_id') > 0,
  });
  if (!ok || res.timings.duration > 500) {
    console.error(`slow or failed order: ${res.status} in ${res.timings.duration} ms: ${res.body}`);
  }
  sleep(1);
}
