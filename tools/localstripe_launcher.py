"""Starts localstripe (a stateful Stripe fake) for Vigil's tests, with its gaps against today's Stripe API
patched so that the product code can speak modern Stripe:

- subscription items name a `price` (localstripe only knows `plan`; Stripe documents prices as compatible
  with plans);
- a change of price follows Stripe's `proration_behavior` (`create_prorations`, `none`, `always_invoice`),
  prorating by the second as Stripe does, and keeps the item's id; `payment_behavior=pending_if_incomplete`
  makes a change whose invoice is not paid a pending update (`pending_update`, the open invoice as
  `latest_invoice`, the subscription unchanged), applied when that invoice is paid;
- `POST /v1/invoices/create_preview` previews such a change with the same arithmetic (localstripe's own
  credits whole past invoices and ignores `price` and `proration_behavior`);
- subscription schedules: `from_subscription`, phases of one price each (with its quantity, tax rates and
  default tax rates, which a phase sent without them loses, as at Stripe), `end_behavior` `release` or
  `cancel`, `release`; a test hook
  (`POST /_config/subscription_schedules/{id}/advance`) stands in for Stripe's test clocks and moves the
  subscription into the next phase, billing it at that phase's price, as the end of the period does;
- finalized invoices have a `hosted_invoice_url`, a `billing_reason` and `auto_advance`, which
  `POST /v1/invoices/{id}` sets; cancelling a subscription at once stops the automatic collection of every
  open invoice of the customer (`auto_advance` false), as Stripe does by default;
- voiding the invoice a pending update waits for discards the pending update (localstripe would end the
  subscription, as for an unpaid first invoice), and voiding a renewal's invoice leaves the subscription be;
- updating a subscription emits `customer.subscription.updated`, as Stripe does, and `cancel_at` sent
  empty unsets it; a subscription has a `default_payment_method` (one attached to its customer);
- listing a customer's tax ids takes Stripe's pagination parameters (`limit`, `starting_after`,
  `ending_before`), which localstripe refuses;
- nothing is persisted to /tmp/localstripe.pickle (shared between runs and slow);
- the plans named on the command line exist from the start;
- the process exits when the test process that started it goes away.

Usage: python localstripe_launcher.py --port 8420 --plans price_pro:2900,price_enterprise:9900
"""

import argparse
import asyncio
import calendar
import os
import sys
import time
from datetime import datetime, timezone

from localstripe import resources
from localstripe.errors import UserError
from localstripe.webhooks import schedule_webhook

# Stripe discards a pending update that is not paid within 23 hours.
PENDING_UPDATE_SECS = 23 * 3600
PRORATION_BEHAVIORS = ('create_prorations', 'none', 'always_invoice')
PAYMENT_BEHAVIORS = ('allow_incomplete', 'default_incomplete', 'error_if_incomplete', 'pending_if_incomplete')
# What Stripe accepts together with `payment_behavior=pending_if_incomplete` (its pending updates reference).
PENDING_UPDATE_PARAMS = {'items', 'proration_behavior', 'proration_date', 'payment_behavior',
                         'billing_cycle_anchor', 'trial_end', 'trial_from_plan', 'add_invoice_items'}


def prices_as_plans(items):
    for item in items or []:
        if isinstance(item, dict) and 'price' in item:
            item.setdefault('plan', item.pop('price'))


def set_route(method, url, func):
    """Replaces (or adds) one of localstripe's extra routes; must run before `localstripe.server` is imported,
    which registers them."""
    resources.extra_apis[:] = [r for r in resources.extra_apis if (r[0], r[1]) != (method, url)]
    resources.extra_apis.insert(0, (method, url, func))


def plan_name(plan):
    try:
        return plan.name
    except UserError:
        return plan.id


def day(ts):
    return datetime.fromtimestamp(ts, timezone.utc).strftime('%d %b %Y')


def new_plan_of(sub, items):
    """The plan `items` move the subscription's one item to, or None when they change no price."""
    if not items:
        return None
    if len(items) != 1 or not isinstance(items[0], dict):
        raise UserError(400, 'Exactly one item is supported')
    item = items[0]
    if item.get('id') not in (None, sub.items._list[0].id):
        raise UserError(400, 'No such subscription item: ' + str(item.get('id')))
    plan = item.get('plan')
    if not plan or plan == sub.plan.id:
        return None
    return resources.Plan._api_retrieve(plan)


def proration_lines(sub, new_plan, at):
    """Stripe's prorations of a price change at `at`: a credit for the unused time on the old price and a
    charge for the remaining time on the new one, each the price times the share of the period left
    (by the second), rounded."""
    start, end = sub.current_period_start, sub.current_period_end
    if not start <= at < end:
        raise UserError(400, 'proration_date must be within the current period')
    share = (end - at) / (end - start)
    old = sub.plan
    item = sub.items._list[0]
    return [
        dict(amount=-round(old.amount * item.quantity * share), currency=old.currency, plan=old.id,
             description=f'Unused time on {plan_name(old)} after {day(at)}', period=(at, end)),
        dict(amount=round(new_plan.amount * item.quantity * share), currency=new_plan.currency,
             plan=new_plan.id, description=f'Remaining time on {plan_name(new_plan)} after {day(at)}',
             period=(at, end)),
    ]


def invoice_items(sub, lines):
    return [resources.InvoiceItem(amount=line['amount'], currency=line['currency'], proration=True,
                                  description=line['description'], subscription=sub.id, plan=line['plan'],
                                  customer=sub.customer, period_start=line['period'][0],
                                  period_end=line['period'][1])
            for line in lines]


def apply_plan(sub, plan):
    # Stripe keeps the item (and its id) and changes its price.
    sub.items._list[0].plan = plan


class Preview:
    """An invoice that is not stored, as `create_preview` answers it."""

    def __init__(self, sub, lines, at):
        self.sub, self.lines, self.at = sub, lines, at

    def _export(self, expand=None):
        total = sum(line['amount'] for line in self.lines)
        currency = self.lines[0]['currency'] if self.lines else self.sub.plan.currency
        data = [{
            'id': 'il_tmp_' + resources.random_id(14), 'object': 'line_item', 'amount': line['amount'],
            'currency': line['currency'], 'description': line['description'], 'proration': True,
            'period': {'start': line['period'][0], 'end': line['period'][1]},
            'parent': {'type': 'subscription_item_details', 'subscription_item_details': {
                'proration': True, 'subscription': self.sub.id,
                'subscription_item': self.sub.items._list[0].id}},
            'pricing': {'type': 'price_details', 'price_details': {'price': line['plan']}},
        } for line in self.lines]
        return {
            'id': 'upcoming_in_' + resources.random_id(14), 'object': 'invoice', 'livemode': False,
            'created': int(time.time()), 'customer': self.sub.customer, 'subscription': self.sub.id,
            'parent': {'type': 'subscription_details',
                       'subscription_details': {'subscription': self.sub.id}},
            'status': 'draft', 'billing_reason': 'upcoming', 'currency': currency,
            'subtotal': total, 'total': total, 'amount_due': max(0, total), 'amount_paid': 0,
            'amount_remaining': max(0, total), 'subscription_proration_date': self.at,
            'period_start': min((line['period'][0] for line in self.lines), default=self.at),
            'period_end': max((line['period'][1] for line in self.lines), default=self.at),
            'lines': {'object': 'list', 'data': data, 'has_more': False, 'total_count': len(data),
                      'url': '/v1/invoices/upcoming/lines'},
        }


def create_preview(customer=None, subscription=None, subscription_details=None, **kwargs):
    """The invoice a change of the subscription would make. With `always_invoice` that is the invoice made at
    once (the prorations alone); otherwise the next renewal, with the prorations on it."""
    if kwargs:
        raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs))
    if subscription is None:
        raise UserError(400, 'This double previews changes of a subscription: pass `subscription`')
    sub = resources.Subscription._api_retrieve(subscription)
    if customer is not None and customer != sub.customer:
        raise UserError(400, 'The subscription does not belong to that customer')
    details = subscription_details or {}
    unknown = set(details) - {'items', 'proration_behavior', 'proration_date'}
    if unknown:
        raise UserError(400, 'Received unknown parameter: subscription_details[' + ', '.join(unknown) + ']')
    behavior = details.get('proration_behavior', 'create_prorations')
    if behavior not in PRORATION_BEHAVIORS:
        raise UserError(400, 'Invalid proration_behavior: ' + str(behavior))
    items = details.get('items')
    prices_as_plans(items)
    new_plan = new_plan_of(sub, items)
    at = resources.try_convert_to_int(details.get('proration_date')) or int(time.time())
    lines = proration_lines(sub, new_plan, at) if new_plan and behavior != 'none' else []
    if behavior != 'always_invoice':
        plan = new_plan or sub.plan
        end = sub.current_period_end
        lines.append(dict(amount=plan.amount * sub.items._list[0].quantity, currency=plan.currency,
                          plan=plan.id, description=f'1 × {plan_name(plan)}', period=(end, end)))
    return Preview(sub, lines, at)


class SubscriptionSchedule(resources.StripeObject):
    """Stripe's subscription schedule, as far as a change of price at the end of a phase goes."""
    object = 'subscription_schedule'
    _id_prefix = 'sub_sched_'

    def __init__(self, from_subscription=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs))
        if not isinstance(from_subscription, str):
            raise UserError(400, 'This double makes schedules from_subscription only')
        sub = resources.Subscription._api_retrieve(from_subscription)
        if getattr(sub, 'schedule', None):
            raise UserError(400, 'You cannot migrate a subscription that is already attached to a schedule: '
                            + sub.schedule)
        super().__init__()
        self.subscription = sub.id
        self.customer = sub.customer
        self.status = 'active'
        self.end_behavior = 'release'
        self.released_at = None
        self.released_subscription = None
        item = sub.items._list[0]
        self.phases = [{'start_date': sub.current_period_start, 'end_date': sub.current_period_end,
                        'items': [{'price': sub.plan.id, 'plan': sub.plan.id, 'quantity': item.quantity,
                                   'tax_rates': [rate.id for rate in item.tax_rates or []]}],
                        'default_tax_rates': [rate.id for rate in sub.default_tax_rates or []],
                        'proration_behavior': 'create_prorations'}]
        sub.schedule = self.id

    @property
    def current_phase(self):
        phase = self.phases[0] if self.status == 'active' else None
        return phase and {'start_date': phase['start_date'], 'end_date': phase['end_date']}

    def _update(self, phases=None, end_behavior=None, proration_behavior=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs))
        if self.status != 'active':
            raise UserError(400, 'You cannot update a subscription schedule that is ' + self.status)
        if end_behavior not in (None, 'release', 'cancel'):
            raise UserError(400, 'Invalid end_behavior')
        if proration_behavior not in (None,) + PRORATION_BEHAVIORS:
            raise UserError(400, 'Invalid proration_behavior')
        if phases is not None:
            if not isinstance(phases, list) or not phases:
                raise UserError(400, 'phases must be a list')
            start = resources.try_convert_to_int(phases[0].get('start_date'))
            if start != self.phases[0]['start_date']:
                raise UserError(400, 'You cannot change the start date of the current phase')
            checked = []
            for n, phase in enumerate(phases):
                items = phase.get('items')
                prices_as_plans(items)
                if not isinstance(items, list) or len(items) != 1 or not items[0].get('plan'):
                    raise UserError(400, 'Each phase needs exactly one item with a price')
                resources.Plan._api_retrieve(items[0]['plan'])
                end = resources.try_convert_to_int(phase.get('end_date'))
                if 'iterations' in phase:
                    raise UserError(400, 'Received unknown parameter: phases[%d][iterations]' % n)
                duration = phase.get('duration')
                if duration is not None and (not isinstance(duration, dict)
                                             or duration.get('interval') not in ('day', 'week', 'month', 'year')
                                             or (resources.try_convert_to_int(duration.get('interval_count', 1))
                                                 or 0) < 1):
                    raise UserError(400, 'Invalid phases[%d][duration]' % n)
                if end is None and n < len(phases) - 1:
                    raise UserError(400, 'Every phase but the last needs an end_date')
                if end is None and duration is None:
                    raise UserError(400, 'The last phase needs an end_date or a duration')
                begin = checked[-1]['end_date'] if checked else start
                if end is not None and end <= begin:
                    raise UserError(400, 'Phases must end after they start')
                # As at Stripe, what a phase is sent without it has not: a quantity of 1, no tax rates.
                quantity = resources.try_convert_to_int(items[0].get('quantity', 1))
                if not isinstance(quantity, int) or quantity < 1:
                    raise UserError(400, 'Invalid phases[%d][items][0][quantity]' % n)
                tax_rates = tax_rate_ids(items[0].get('tax_rates'), 'phases[%d][items][0][tax_rates]' % n)
                default_tax_rates = tax_rate_ids(phase.get('default_tax_rates'), 'phases[%d][default_tax_rates]' % n)
                checked.append({'start_date': begin, 'end_date': end, 'duration': duration,
                                'items': [{'price': items[0]['plan'], 'plan': items[0]['plan'], 'quantity': quantity,
                                           'tax_rates': tax_rates}],
                                'default_tax_rates': default_tax_rates,
                                'proration_behavior': proration_behavior or 'create_prorations'})
            self.phases = checked
        if end_behavior is not None:
            self.end_behavior = end_behavior
        # A schedule that cancels at its end shows on its subscription as a cancellation date.
        sub = resources.Subscription._api_retrieve(self.subscription)
        sub.cancel_at = phase_end(self.phases[-1]) if self.end_behavior == 'cancel' else None
        schedule_webhook(resources.Event('subscription_schedule.updated', self))
        schedule_webhook(resources.Event('customer.subscription.updated', sub))

    def _release(self):
        sub = resources.Subscription._api_retrieve(self.subscription)
        sub.schedule = None
        self.status = 'released'
        self.released_at = int(time.time())
        self.released_subscription, self.subscription = self.subscription, None
        schedule_webhook(resources.Event('subscription_schedule.released', self))

    @classmethod
    def _api_release(cls, id, preserve_cancel_date=None, **kwargs):
        if kwargs:
            raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs))
        obj = cls._api_retrieve(id)
        if obj.status != 'active':
            raise UserError(400, 'You cannot release a subscription schedule that is ' + obj.status)
        # As at Stripe, a cancellation the schedule set goes with it unless `preserve_cancel_date`.
        if preserve_cancel_date not in (True, 'true') and obj.end_behavior == 'cancel':
            resources.Subscription._api_retrieve(obj.subscription).cancel_at = None
        obj._release()
        schedule_webhook(resources.Event('customer.subscription.updated',
                                         resources.Subscription._api_retrieve(obj.released_subscription)))
        return obj

    def _advance(self):
        """The end of the current phase: the subscription moves to the next phase's price for a new period,
        billed at that price. As at Stripe, a schedule releases its subscription when its *last* phase ends
        (a period after that phase began), not when it begins: until then the subscription names it."""
        ending_last_phase = len(self.phases) == 1
        if self.status != 'active':
            raise UserError(400, 'No next phase to advance to')
        sub = resources.Subscription._api_retrieve(self.subscription)
        if ending_last_phase and self.end_behavior == 'cancel':
            self.status = 'completed'
            sub.schedule = None
            resources.Subscription._api_delete(sub.id)
            return
        if not ending_last_phase:
            self.phases.pop(0)
            phase = self.phases[0]
            apply_plan(sub, resources.Plan._api_retrieve(phase['items'][0]['plan']))
            item = sub.items._list[0]
            item.quantity = phase['items'][0]['quantity']
            item.tax_rates = [resources.TaxRate._api_retrieve(rate) for rate in phase['items'][0]['tax_rates']]
            sub.default_tax_rates = [resources.TaxRate._api_retrieve(rate) for rate in phase['default_tax_rates']]
        sub.start_date = int(time.time())
        sub._create_invoice()
        resources.Invoice._api_retrieve(sub.latest_invoice).billing_reason = 'subscription_cycle'
        if ending_last_phase:
            self._release()
        schedule_webhook(resources.Event('customer.subscription.updated', sub))


def phase_end(phase):
    """When a phase ends: its end date, or its start plus its duration (calendar months and years, as at
    Stripe)."""
    if phase.get('end_date') is not None:
        return phase['end_date']
    duration = phase['duration']
    count = resources.try_convert_to_int(duration.get('interval_count', 1))
    start = datetime.fromtimestamp(phase['start_date'], timezone.utc)
    interval = duration['interval']
    if interval in ('day', 'week'):
        return phase['start_date'] + count * 86400 * (7 if interval == 'week' else 1)
    months = count * (12 if interval == 'year' else 1)
    year, month = divmod(start.month - 1 + months, 12)
    last_day = calendar.monthrange(start.year + year, month + 1)[1]
    return int(start.replace(year=start.year + year, month=month + 1, day=min(start.day, last_day)).timestamp())


def tax_rate_ids(rates, name):
    if rates in (None, ''):
        return []
    if not isinstance(rates, list) or not all(isinstance(rate, str) for rate in rates):
        raise UserError(400, 'Invalid ' + name)
    for rate in rates:
        resources.TaxRate._api_retrieve(rate)
    return rates


def update_invoice(id, auto_advance=None, metadata=None, **kwargs):
    if kwargs:
        raise UserError(400, 'Received unknown parameter: ' + ', '.join(kwargs))
    invoice = resources.Invoice._api_retrieve(id)
    if auto_advance is not None:
        if auto_advance not in (True, False, 'true', 'false'):
            raise UserError(400, 'Invalid boolean: ' + str(auto_advance))
        invoice.auto_advance = auto_advance in (True, 'true')
    if metadata:
        invoice.metadata = {**(invoice.metadata or {}), **metadata}
    schedule_webhook(resources.Event('invoice.updated', invoice))
    return invoice


def list_tax_ids(id, limit=None, starting_after=None, ending_before=None, **kwargs):
    # Stripe's GET /v1/customers/{id}/tax_ids takes limit, starting_after and ending_before; localstripe
    # answers 400 "Unexpected limit". A customer has at most 25 tax ids, so one page always holds them.
    return resources.Customer._api_list_tax_ids(id, **kwargs)


def patch():
    resources.Store.dump_to_disk = lambda self: None
    resources.Store.try_load_from_disk = lambda self: None

    original_init = resources.Subscription.__init__

    def init(self, *args, items=None, **kwargs):
        prices_as_plans(items)
        original_init(self, *args, items=items, **kwargs)
        self.pending_update = None
        self.default_payment_method = None

    resources.Subscription.__init__ = init

    original_update = resources.Subscription._update
    resources.Subscription.schedule = None

    def update(self, items=None, proration_behavior=None, payment_behavior=None, proration_date=None, **kwargs):
        prices_as_plans(items)
        if proration_behavior not in (None,) + PRORATION_BEHAVIORS:
            raise UserError(400, 'Invalid proration_behavior: ' + str(proration_behavior))
        if payment_behavior not in (None,) + PAYMENT_BEHAVIORS:
            raise UserError(400, 'Invalid payment_behavior: ' + str(payment_behavior))
        pending = payment_behavior == 'pending_if_incomplete'
        if 'default_payment_method' in kwargs:
            method = kwargs.pop('default_payment_method') or None
            if method is not None and resources.PaymentMethod._api_retrieve(method).customer != self.customer:
                raise UserError(400, 'The payment method must be attached to the customer first')
            self.default_payment_method = method
        # Stripe unsets a field sent empty; localstripe insists on a timestamp.
        if kwargs.get('cancel_at') == '':
            del kwargs['cancel_at']
            self.cancel_at = None
        if pending and set(kwargs) - PENDING_UPDATE_PARAMS:
            raise UserError(400, 'payment_behavior=pending_if_incomplete cannot be used with '
                            + ', '.join(sorted(set(kwargs) - PENDING_UPDATE_PARAMS)))
        new_plan = new_plan_of(self, items)
        if new_plan is None:
            original_update(self, **kwargs)
        else:
            change_plan(self, new_plan, proration_behavior or 'create_prorations', pending,
                        resources.try_convert_to_int(proration_date) or int(time.time()))
            original_update(self, **kwargs)
        schedule_webhook(resources.Event('customer.subscription.updated', self))

    def change_plan(self, new_plan, behavior, pending, at):
        lines = proration_lines(self, new_plan, at) if behavior != 'none' else []
        # Another update discards a pending one.
        self.pending_update, self._pending = None, None
        if behavior != 'always_invoice' or not lines:
            invoice_items(self, lines)
            apply_plan(self, new_plan)
            return
        if not pending:
            apply_plan(self, new_plan)
        invoice = resources.Invoice(customer=self.customer, subscription=self.id, items=invoice_items(self, lines))
        invoice.billing_reason = 'subscription_update'
        invoice._finalize()
        if pending:
            self._pending = {'invoice': invoice.id, 'plan': new_plan.id}
        if invoice.status != 'paid':
            resources.Invoice._api_pay_invoice(invoice.id)
        if invoice.status == 'paid':
            apply_plan(self, new_plan)
            self._pending = None
            return
        # localstripe reports a card declined while paying an invoice to no one.
        schedule_webhook(resources.Event('invoice.payment_failed', invoice))
        if not pending:
            self._on_recurring_payment_failure(invoice)
            return
        item = self.items._list[0]._export()
        item['plan'] = item['price'] = new_plan._export()
        self.pending_update = {'expires_at': int(time.time()) + PENDING_UPDATE_SECS,
                               'subscription_items': [item], 'billing_cycle_anchor': None,
                               'trial_end': None, 'trial_from_plan': None}

    resources.Subscription._update = update

    original_payment_success = resources.Subscription._on_initial_payment_success

    def on_payment_success(self, invoice):
        original_payment_success(self, invoice)
        pending = getattr(self, '_pending', None)
        if pending and pending['invoice'] == invoice.id:
            apply_plan(self, resources.Plan._api_retrieve(pending['plan']))
            was_pending = self.pending_update is not None
            self.pending_update, self._pending = None, None
            if was_pending:
                schedule_webhook(resources.Event('customer.subscription.pending_update_applied', self))
                schedule_webhook(resources.Event('customer.subscription.updated', self))

    resources.Subscription._on_initial_payment_success = on_payment_success

    resources.Invoice.hosted_invoice_url = property(
        lambda self: None if self._draft else 'https://invoice.stripe.com/i/localstripe/' + self.id)
    original_invoice_init = resources.Invoice.__init__

    def invoice_init(self, *args, **kwargs):
        original_invoice_init(self, *args, **kwargs)
        self.billing_reason = 'subscription_create' if self.subscription else 'manual'
        # Stripe collects a subscription's invoices by itself (retries included) while this is true.
        self.auto_advance = True

    resources.Invoice.__init__ = invoice_init

    original_delete = resources.Subscription._api_delete.__func__

    @classmethod
    def delete(cls, id, **kwargs):
        sub = original_delete(cls, id)
        # "By default, upon subscription cancellation, Stripe will stop automatic collection of all finalized
        # invoices for the customer" (the API reference of DELETE /v1/subscriptions/{id}).
        for invoice in resources.Invoice._api_list_all(None, customer=sub.customer, limit=100)._list:
            if invoice.status == 'open':
                invoice.auto_advance = False
        return sub

    resources.Subscription._api_delete = delete

    original_void = resources.Invoice._api_void_invoice.__func__

    @classmethod
    def void(cls, id):
        invoice = resources.Invoice._api_retrieve(id)
        sub = invoice.subscription and resources.Subscription._api_retrieve(invoice.subscription)
        first = invoice.billing_reason == 'subscription_create'
        if sub and not first:
            # Only an unpaid first invoice ends its subscription; otherwise voiding it leaves the subscription
            # be, and discards a pending update that waited for it.
            subscription_id, invoice.subscription = invoice.subscription, None
            try:
                voided = original_void(cls, id)
            finally:
                invoice.subscription = subscription_id
            pending = getattr(sub, '_pending', None)
            if pending and pending['invoice'] == id:
                sub.pending_update, sub._pending = None, None
                schedule_webhook(resources.Event('customer.subscription.updated', sub))
        else:
            voided = original_void(cls, id)
        schedule_webhook(resources.Event('invoice.voided', voided))
        return voided

    resources.Invoice._api_void_invoice = void

    # set_route puts each route first: the generic `{id}` goes in before the literal paths it would swallow.
    set_route('POST', '/v1/invoices/{id}', update_invoice)
    set_route('POST', '/v1/invoices/create_preview', create_preview)
    set_route('POST', '/v1/invoices/{id}/void', resources.Invoice._api_void_invoice)
    set_route('GET', '/v1/customers/{id}/tax_ids', list_tax_ids)
    set_route('POST', '/v1/subscription_schedules', SubscriptionSchedule._api_create)
    set_route('GET', '/v1/subscription_schedules/{id}', SubscriptionSchedule._api_retrieve)
    set_route('POST', '/v1/subscription_schedules/{id}/release', SubscriptionSchedule._api_release)
    set_route('POST', '/v1/subscription_schedules/{id}', SubscriptionSchedule._api_update)


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

    async def advance_schedule(request):
        SubscriptionSchedule._api_retrieve(request.match_info['id'])._advance()
        return server.web.Response()

    server.app.router.add_post('/_config/subscription_schedules/{id}/advance', advance_schedule)
    server.app.on_startup.append(on_startup)
    sys.argv = [sys.argv[0], '--port', str(args.port), '--from-scratch']
    server.start()


if __name__ == '__main__':
    main()
