"""Starts localstripe (a stateful Stripe fake) for Vigil's tests, with its gaps against today's Stripe API
patched so that the product code can speak modern Stripe:

- subscription items name a `price` (localstripe only knows `plan`; Stripe documents prices as compatible
  with plans), and updates may carry `proration_behavior` (localstripe answers 500 to it);
- updating a subscription emits `customer.subscription.updated`, as Stripe does;
- listing a customer's tax ids takes Stripe's pagination parameters (`limit`, `starting_after`,
  `ending_before`), which localstripe refuses;
- nothing is persisted to /tmp/localstripe.pickle (shared between runs and slow);
- the plans named on the command line exist from the start;
- the process exits when the test process that started it goes away.

Usage: python localstripe_launcher.py --port 8420 --plans price_pro:2900,price_enterprise:9900
"""

import argparse
import asyncio
import os
import sys

from localstripe import resources
from localstripe.webhooks import schedule_webhook


def patch():
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None

    def prices_as_plans(items):
        for item in items or []:
            if isinstance(item, dict) and 'price' in item:
                item.setdefault('plan', item.pop('price'))

    original_init = resources.Subscription.__init__

    def init(self, *args, items=None, **kwargs):
        prices_as_plans(items)
        original_init(self, *args, items=items, **kwargs)

    resources.Subscription.__init__ = init

    original_update = resources.Subscription._update

    def update(self, items=None, proration_behavior=None, **kwargs):
        prices_as_plans(items)
        if proration_behavior is not None and 'prorate' not in kwargs:
            kwargs['prorate'] = proration_behavior != 'none'
        original_update(self, items=items, **kwargs)
        schedule_webhook(resources.Event('customer.subscription.updated', self))

    resources.Subscription._update = update
    patch_tax_id_list()


def list_tax_ids(id, limit=None, starting_after=None, ending_before=None, **kwargs):
    # Stripe's GET /v1/customers/{id}/tax_ids takes limit, starting_after and ending_before; localstripe
    # answers 400 "Unexpected limit". A customer has at most 25 tax ids, so one page always holds them.
    return resources.Customer._api_list_tax_ids(id, **kwargs)


def patch_tax_id_list():
    # The routes are read when `localstripe.server` is imported, so this runs before that import.
    route = ('GET', '/v1/customers/{id}/tax_ids')
    resources.extra_apis[:] = [r for r in resources.extra_apis if (r[0], r[1]) != route]
    resources.extra_apis.insert(0, (*route, list_tax_ids))


def create_plans(spec):
    for entry in filter(None, (spec or '').split(',')):
        plan_id, amount = entry.split(':')
        resources.Plan(id=plan_id, amount=int(amount), currency='usd', interval='month',
                       product={'name': plan_id})


async def exit_with_parent(parent):
    while os.getppid() == parent:
        await asyncio.sleep(0.5)
    os._exit(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, default=8420)
    parser.add_argument('--plans', default='')
    args = parser.parse_args()
    patch()
    # Imported only now: it registers the routes, the patched ones among them.
    from localstripe import server
    parent = os.getppid()

    async def on_startup(app):
        # Inside the server's event loop, so that the events these create can be scheduled.
        create_plans(args.plans)
        asyncio.ensure_future(exit_with_parent(parent))

    server.app.on_startup.append(on_startup)
    sys.argv = [sys.argv[0], '--port', str(args.port), '--from-scratch']
    server.start()


if __name__ == '__main__':
    main()
