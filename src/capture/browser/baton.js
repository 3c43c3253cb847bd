/* global window, document, location, history */
/*
 * Baton's website snippet, served at /js/baton.js (docs/capture.md). No dependencies, no build.
 *
 *   <script>window.baton=window.baton||function(){(baton.q=baton.q||[]).push(arguments)}</script>
 *   <script async src="https://baton.example.com/js/baton.js" data-site="SITE_KEY"></script>
 *
 * Keeps a first-party anonymous visitor id (a cookie and localStorage on the site's origin),
 * records page_view on load and on history navigation, and offers baton('track', type, props)
 * and baton('identify', { email, firstName, … }). Calls made before it loaded are queued by the
 * stub above and replayed in order. It reads nothing back: the collect endpoint answers no data.
 */
(function () {
  'use strict';
  var settings = '__BATON_SETTINGS__';
  var script = document.currentScript || document.querySelector('script[data-site][src*="/js/baton.js"]');
  if (!script || window.__batonLoaded) return;
  window.__batonLoaded = true;
  var site = script.getAttribute('data-site') || '';
  var endpoint = new URL('/collect', script.src).href;
  var queued = (window.baton && window.baton.q) || [];

  // Global Privacy Control (and Do Not Track when Baton is configured to honour it): nothing is
  // stored on the device and nothing is sent, but calls still succeed so the site's code runs on.
  var optedOut = (settings.gpc && navigator.globalPrivacyControl === true) || (settings.dnt && (navigator.doNotTrack === '1' || window.doNotTrack === '1'));
  if (optedOut) {
    window.baton = function () {};
    return;
  }

  var KEY = 'baton_vid';
  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var text = '';
    for (var i = 0; i < bytes.length; i++) text += ('0' + bytes[i].toString(16)).slice(-2);
    return text;
  }
  function readCookie() {
    var match = document.cookie.match(/(?:^|;\s*)baton_vid=([A-Za-z0-9_-]{16,64})/);
    return match ? match[1] : null;
  }
  function readStorage() {
    try {
      var value = localStorage.getItem(KEY);
      return value && /^[A-Za-z0-9_-]{16,64}$/.test(value) ? value : null;
    } catch {
      return null;
    }
  }
  var visitor = readCookie() || readStorage() || randomId();
  // Both: a cookie survives a cleared localStorage and the reverse; a year, renewed on each visit.
  document.cookie = KEY + '=' + visitor + '; Max-Age=31536000; Path=/; SameSite=Lax' + (location.protocol === 'https:' ? '; Secure' : '');
  try {
    localStorage.setItem(KEY, visitor);
  } catch {
    /* storage disabled: the cookie alone */
  }

  // A tracked email link lands with a signed visitor token: sent once, then taken out of the
  // address bar, so it is neither bookmarked nor shared.
  var token = null;
  var current = new URL(location.href);
  if (current.searchParams.has('baton_vt')) {
    token = current.searchParams.get('baton_vt');
    current.searchParams.delete('baton_vt');
    try {
      history.replaceState(history.state, '', current.pathname + current.search + current.hash);
    } catch {
      /* sandboxed frame: leave the URL */
    }
  }

  function send(message) {
    message.site = site;
    message.visitor = visitor;
    if (token) {
      message.token = token;
      token = null;
    }
    var body = JSON.stringify(message);
    // text/plain: a simple request for CORS, so no preflight, and what sendBeacon sends for a string.
    if (navigator.sendBeacon && navigator.sendBeacon(endpoint, body)) return;
    if (window.fetch)
      fetch(endpoint, {
        method: 'POST',
        body: body,
        keepalive: true,
        credentials: 'omit',
        mode: 'cors',
        headers: { 'Content-Type': 'text/plain;charset=UTF-8' },
      }).catch(function () {});
  }

  var UTM = ['utm_source', 'utm_medium', 'utm_campaign', 'utm_term', 'utm_content'];
  var lastKey = null;
  var lastUrl = null;
  function pageView() {
    var here = new URL(location.href);
    var key = here.pathname + here.search;
    if (key === lastKey) return;
    // Within a single-page app the referrer of a page is the page before it.
    var referrer = lastUrl || document.referrer || null;
    var properties = { path: here.pathname, title: document.title.slice(0, 1000), referrer: referrer ? referrer.slice(0, 1000) : null };
    for (var i = 0; i < UTM.length; i++) {
      var value = here.searchParams.get(UTM[i]);
      if (value) properties[UTM[i]] = value.slice(0, 1000);
    }
    lastKey = key;
    lastUrl = here.origin + key;
    send({ type: 'page_view', properties: properties });
  }

  function baton(command, a, b) {
    if (command === 'track' && typeof a === 'string') send({ type: a, properties: b && typeof b === 'object' ? b : {} });
    else if (command === 'identify' && a && typeof a === 'object') send({ identify: a });
    else if (command === 'page') pageView();
  }
  window.baton = baton;

  // Single-page apps: pushState and replaceState do not fire popstate, so they are wrapped.
  ['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name];
    history[name] = function () {
      var result = original.apply(this, arguments);
      setTimeout(pageView, 0);
      return result;
    };
  });
  window.addEventListener('popstate', pageView);

  // A Baton form on this page (/forms/:id) carries the visitor id, so the lead it makes inherits
  // this visitor's page views (docs/forms.md).
  var formsBase = new URL('/forms/', script.src).href;
  document.addEventListener(
    'submit',
    function (event) {
      var form = event.target;
      if (!form || !form.action || String(form.action).indexOf(formsBase) !== 0) return;
      var field = form.querySelector('input[name="baton_visitor"]');
      if (!field) {
        field = document.createElement('input');
        field.type = 'hidden';
        field.name = 'baton_visitor';
        form.appendChild(field);
      }
      field.value = visitor;
    },
    true,
  );

  pageView();
  for (var i = 0; i < queued.length; i++) baton.apply(null, queued[i]);
})();
