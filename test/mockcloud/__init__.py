"""The mock cloud of the cloud_fdw tests, one module per concern.

The manual (routes, options, faults, the request log) is the docstring of
the entry point test/mock_cloud.py, which also keeps the command line and
re-exports what test scripts import from ``mock_cloud``.

Layers, each importing only from the ones below it (no cycles):

* ``plumbing``: HTTP server, dispatch, /_mock/ prefix parsing, ``serve``;
  ``control``: the /_mock/control/ API.
* ``faults``: fault selection and injection around an answer (latency,
  status, body=KIND, hang, reset, after_apply).
* ``routes``: services (auth, error envelope) and the route table.
* ``qoder``, ``huawei_deploy``, ``huawei_eps``, ``iam``: the provider APIs;
  ``huawei_auth``: IAM token or AK/SK check of the Huawei services.
* ``state``: what request threads share (tenants, fault counters, log,
  tokens); ``store``: the data of a tenant and the synthetic data sets.
* ``replies``: requests, replies and error envelopes; ``options``: the
  /_mock/<opts>/ options; ``signing``: the SDK-HMAC-SHA256 signer;
  ``helpers``: small helpers; ``constants``: test credentials, fixed ids and
  fixed provider catalogues (CodeArts execution states, EPS resource types).

Python 3 standard library only.
"""
