CREATE SCHEMA auth;

CREATE SCHEMA ayb;

CREATE FUNCTION auth.app_id() RETURNS uuid
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $_$
  select case
    when (auth.jwt() ->> 'app_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then (auth.jwt() ->> 'app_id')::uuid
  end
$_$;

CREATE FUNCTION auth.client_id() RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select auth.jwt() ->> 'client_id'
$$;

CREATE FUNCTION auth.email() RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select auth.jwt() ->> 'email'
$$;

CREATE FUNCTION auth.has_scope(requested text) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  with s as (
    select coalesce(auth.jwt() ->> 'scope', '') as scope
  ), words as (
    select regexp_split_to_table(scope, '\s+') as w from s where scope <> ''
  )
  select case
    when (select scope from s) = '' then true
    else exists (
      select 1 from words
      where w = requested
         or (w = 'full')
         or (w = 'write' and requested = 'read')
    )
  end
$$;

CREATE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO ''
    AS $$
declare
  raw text := nullif(current_setting('request.jwt.claims', true), '');
begin
  if raw is null then
    return '{}'::jsonb;
  end if;
  begin
    return raw::jsonb;
  exception when others then
    raise exception 'request.jwt.claims is not valid JSON'
      using errcode = '22023',
            hint = 'set request.jwt.claims to a JSON object, e.g. select set_config(''request.jwt.claims'', ''{"sub":"..."}'', true)';
  end;
end
$$;

CREATE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $$
  select coalesce(auth.jwt() ->> 'role', nullif(current_setting('role', true), 'none'))
$$;

CREATE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE
    SET search_path TO ''
    AS $_$
  select case
    when (auth.jwt() ->> 'sub') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
      then (auth.jwt() ->> 'sub')::uuid
  end
$_$;

CREATE FUNCTION ayb.auth_refresh(p_hash bytea, p_new_hash bytea, p_now timestamp with time zone, p_ttl interval) RETURNS TABLE(status text, session_id uuid, refresh_id bigint, user_id uuid, email text, password_hash text, email_verified_at timestamp with time zone, metadata jsonb, is_admin boolean, banned_at timestamp with time zone, created_at timestamp with time zone, updated_at timestamp with time zone)
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
declare
  v_token bigint;
  v_session uuid;
  v_live boolean;
  v_new bigint;
begin
  -- Exactly one of two concurrent callers gets the row.
  update ayb.refresh_tokens t set used_at = p_now
   where t.token_hash = p_hash and t.used_at is null
  returning t.id, t.session_id into v_token, v_session;

  if v_token is null then
    update ayb.sessions s set revoked_at = p_now, revoked_reason = 'refresh_reuse'
      from ayb.refresh_tokens t
     where t.token_hash = p_hash and s.id = t.session_id and s.revoked_at is null
    returning s.id into v_session;
    if v_session is not null then
      perform pg_notify('ayb_auth', 'session:' || v_session);
      return query select 'reused'::text, v_session, null::bigint, null::uuid, null::text, null::text,
        null::timestamptz, null::jsonb, null::boolean, null::timestamptz, null::timestamptz, null::timestamptz;
      return;
    end if;
    return query select 'invalid'::text, null::uuid, null::bigint, null::uuid, null::text, null::text,
      null::timestamptz, null::jsonb, null::boolean, null::timestamptz, null::timestamptz, null::timestamptz;
    return;
  end if;

  select s.revoked_at is null and s.expires_at > p_now and u.banned_at is null into v_live
    from ayb.sessions s join ayb.users u on u.id = s.user_id
   where s.id = v_session;
  if not coalesce(v_live, false) then
    return query select 'ended'::text, v_session, null::bigint, null::uuid, null::text, null::text,
      null::timestamptz, null::jsonb, null::boolean, null::timestamptz, null::timestamptz, null::timestamptz;
    return;
  end if;

  update ayb.sessions s set refreshed_at = p_now, expires_at = p_now + p_ttl where s.id = v_session;
  insert into ayb.refresh_tokens (session_id, token_hash, parent_id, created_at)
  values (v_session, p_new_hash, v_token, p_now)
  returning id into v_new;

  return query
    select 'ok'::text, v_session, v_new, u.id, u.email, u.password_hash, u.email_verified_at, u.metadata,
           u.is_admin, u.banned_at, u.created_at, u.updated_at
      from ayb.users u join ayb.sessions s on s.user_id = u.id
     where s.id = v_session;
end
$$;

CREATE TABLE ayb.auth_throttle (
    key text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    hits integer NOT NULL,
    CONSTRAINT auth_throttle_hits_check CHECK ((hits >= 0)),
    CONSTRAINT auth_throttle_key_check CHECK ((length(key) <= 400))
);

CREATE TABLE ayb.identities (
    provider text NOT NULL,
    subject text NOT NULL,
    user_id uuid NOT NULL,
    email text,
    email_verified boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT identities_provider_check CHECK ((provider ~ '^[a-z0-9_-]{1,64}$'::text)),
    CONSTRAINT identities_subject_check CHECK (((length(subject) >= 1) AND (length(subject) <= 255)))
);

CREATE TABLE ayb.mail_outbox (
    id bigint NOT NULL,
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text DEFAULT ''::text NOT NULL,
    template text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    locked_until timestamp with time zone,
    sent_at timestamp with time zone,
    failed_at timestamp with time zone,
    last_error text,
    CONSTRAINT mail_outbox_to_address_check CHECK (((length(to_address) >= 3) AND (length(to_address) <= 320)))
);

ALTER TABLE ayb.mail_outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.mail_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE ayb.oauth_exchange_codes (
    code_hash bytea NOT NULL,
    session_id uuid NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT oauth_exchange_codes_code_hash_check CHECK ((length(code_hash) = 32))
);

CREATE TABLE ayb.oauth_flows (
    state_hash bytea NOT NULL,
    provider text NOT NULL,
    binding_hash bytea NOT NULL,
    code_verifier text NOT NULL,
    nonce text NOT NULL,
    redirect_to text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT oauth_flows_binding_hash_check CHECK ((length(binding_hash) = 32)),
    CONSTRAINT oauth_flows_state_hash_check CHECK ((length(state_hash) = 32))
);

CREATE TABLE ayb.one_time_tokens (
    token_hash bytea NOT NULL,
    user_id uuid NOT NULL,
    purpose text NOT NULL,
    email text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT one_time_tokens_check CHECK (((purpose = 'email_change'::text) = (email IS NOT NULL))),
    CONSTRAINT one_time_tokens_purpose_check CHECK ((purpose = ANY (ARRAY['verify_email'::text, 'password_reset'::text, 'magic_link'::text, 'email_change'::text]))),
    CONSTRAINT one_time_tokens_token_hash_check CHECK ((length(token_hash) = 32))
);

CREATE TABLE ayb.refresh_tokens (
    id bigint NOT NULL,
    session_id uuid NOT NULL,
    token_hash bytea NOT NULL,
    parent_id bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    used_at timestamp with time zone,
    CONSTRAINT refresh_tokens_token_hash_check CHECK ((length(token_hash) = 32))
);

ALTER TABLE ayb.refresh_tokens ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME ayb.refresh_tokens_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

CREATE TABLE ayb.schema_version (
    version integer NOT NULL
);

CREATE TABLE ayb.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    user_id uuid NOT NULL,
    aal text DEFAULT 'aal1'::text NOT NULL,
    method text NOT NULL,
    user_agent text DEFAULT ''::text NOT NULL,
    ip text DEFAULT ''::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    refreshed_at timestamp with time zone,
    expires_at timestamp with time zone NOT NULL,
    revoked_at timestamp with time zone,
    revoked_reason text,
    CONSTRAINT sessions_aal_check CHECK ((aal = ANY (ARRAY['aal1'::text, 'aal2'::text]))),
    CONSTRAINT sessions_ip_check CHECK ((length(ip) <= 64)),
    CONSTRAINT sessions_method_check CHECK ((method = ANY (ARRAY['password'::text, 'magic_link'::text, 'oauth'::text, 'admin'::text, 'cli'::text, 'password_reset'::text]))),
    CONSTRAINT sessions_revoked_reason_check CHECK ((revoked_reason = ANY (ARRAY['logout'::text, 'logout_all'::text, 'password_change'::text, 'password_reset'::text, 'refresh_reuse'::text, 'ban'::text, 'revoked_by_user'::text, 'admin'::text]))),
    CONSTRAINT sessions_user_agent_check CHECK ((length(user_agent) <= 512))
);

CREATE TABLE ayb.signing_keys (
    kid text NOT NULL,
    alg text NOT NULL,
    private_key bytea NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    retired_at timestamp with time zone,
    CONSTRAINT signing_keys_alg_check CHECK ((alg = 'ES256'::text)),
    CONSTRAINT signing_keys_kid_check CHECK (((length(kid) >= 8) AND (length(kid) <= 64)))
);

CREATE TABLE ayb.users (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    email text NOT NULL,
    password_hash text,
    email_verified_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    is_admin boolean DEFAULT false NOT NULL,
    banned_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT users_email_check CHECK ((((length(email) >= 3) AND (length(email) <= 320)) AND (email = lower(email)))),
    CONSTRAINT users_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text))
);

ALTER TABLE ONLY ayb.auth_throttle
    ADD CONSTRAINT auth_throttle_pkey PRIMARY KEY (key);

ALTER TABLE ONLY ayb.identities
    ADD CONSTRAINT identities_pkey PRIMARY KEY (provider, subject);

ALTER TABLE ONLY ayb.mail_outbox
    ADD CONSTRAINT mail_outbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.oauth_exchange_codes
    ADD CONSTRAINT oauth_exchange_codes_pkey PRIMARY KEY (code_hash);

ALTER TABLE ONLY ayb.oauth_flows
    ADD CONSTRAINT oauth_flows_pkey PRIMARY KEY (state_hash);

ALTER TABLE ONLY ayb.one_time_tokens
    ADD CONSTRAINT one_time_tokens_pkey PRIMARY KEY (token_hash);

ALTER TABLE ONLY ayb.refresh_tokens
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.refresh_tokens
    ADD CONSTRAINT refresh_tokens_token_hash_key UNIQUE (token_hash);

ALTER TABLE ONLY ayb.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ayb.signing_keys
    ADD CONSTRAINT signing_keys_pkey PRIMARY KEY (kid);

ALTER TABLE ONLY ayb.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

CREATE INDEX identities_user_id_idx ON ayb.identities USING btree (user_id);

CREATE INDEX mail_outbox_due_idx ON ayb.mail_outbox USING btree (next_attempt_at) WHERE ((sent_at IS NULL) AND (failed_at IS NULL));

CREATE INDEX one_time_tokens_user_idx ON ayb.one_time_tokens USING btree (user_id, purpose);

CREATE INDEX refresh_tokens_session_id_idx ON ayb.refresh_tokens USING btree (session_id);

CREATE INDEX sessions_user_id_idx ON ayb.sessions USING btree (user_id) WHERE (revoked_at IS NULL);

CREATE UNIQUE INDEX users_email_key ON ayb.users USING btree (lower(email));

ALTER TABLE ONLY ayb.identities
    ADD CONSTRAINT identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES ayb.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.oauth_exchange_codes
    ADD CONSTRAINT oauth_exchange_codes_session_id_fkey FOREIGN KEY (session_id) REFERENCES ayb.sessions(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.one_time_tokens
    ADD CONSTRAINT one_time_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES ayb.users(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.refresh_tokens
    ADD CONSTRAINT refresh_tokens_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES ayb.refresh_tokens(id) ON DELETE SET NULL;

ALTER TABLE ONLY ayb.refresh_tokens
    ADD CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES ayb.sessions(id) ON DELETE CASCADE;

ALTER TABLE ONLY ayb.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES ayb.users(id) ON DELETE CASCADE;

GRANT USAGE ON SCHEMA auth TO anon;
GRANT USAGE ON SCHEMA auth TO authenticated;
GRANT USAGE ON SCHEMA auth TO service_role;
GRANT USAGE ON SCHEMA auth TO ayb_system;

GRANT USAGE ON SCHEMA ayb TO ayb_system;
GRANT USAGE ON SCHEMA ayb TO service_role;

GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;

REVOKE ALL ON FUNCTION auth.app_id() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.app_id() TO anon;
GRANT ALL ON FUNCTION auth.app_id() TO authenticated;
GRANT ALL ON FUNCTION auth.app_id() TO service_role;
GRANT ALL ON FUNCTION auth.app_id() TO ayb_system;

REVOKE ALL ON FUNCTION auth.client_id() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.client_id() TO anon;
GRANT ALL ON FUNCTION auth.client_id() TO authenticated;
GRANT ALL ON FUNCTION auth.client_id() TO service_role;
GRANT ALL ON FUNCTION auth.client_id() TO ayb_system;

REVOKE ALL ON FUNCTION auth.email() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.email() TO anon;
GRANT ALL ON FUNCTION auth.email() TO authenticated;
GRANT ALL ON FUNCTION auth.email() TO service_role;
GRANT ALL ON FUNCTION auth.email() TO ayb_system;

REVOKE ALL ON FUNCTION auth.has_scope(requested text) FROM PUBLIC;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO anon;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO authenticated;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO service_role;
GRANT ALL ON FUNCTION auth.has_scope(requested text) TO ayb_system;

REVOKE ALL ON FUNCTION auth.jwt() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.jwt() TO anon;
GRANT ALL ON FUNCTION auth.jwt() TO authenticated;
GRANT ALL ON FUNCTION auth.jwt() TO service_role;
GRANT ALL ON FUNCTION auth.jwt() TO ayb_system;

REVOKE ALL ON FUNCTION auth.role() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.role() TO anon;
GRANT ALL ON FUNCTION auth.role() TO authenticated;
GRANT ALL ON FUNCTION auth.role() TO service_role;
GRANT ALL ON FUNCTION auth.role() TO ayb_system;

REVOKE ALL ON FUNCTION auth.uid() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.uid() TO anon;
GRANT ALL ON FUNCTION auth.uid() TO authenticated;
GRANT ALL ON FUNCTION auth.uid() TO service_role;
GRANT ALL ON FUNCTION auth.uid() TO ayb_system;

REVOKE ALL ON FUNCTION ayb.auth_refresh(p_hash bytea, p_new_hash bytea, p_now timestamp with time zone, p_ttl interval) FROM PUBLIC;
GRANT ALL ON FUNCTION ayb.auth_refresh(p_hash bytea, p_new_hash bytea, p_now timestamp with time zone, p_ttl interval) TO ayb_system;

GRANT ALL ON TABLE ayb.auth_throttle TO ayb_system;

GRANT ALL ON TABLE ayb.identities TO ayb_system;

GRANT ALL ON TABLE ayb.mail_outbox TO ayb_system;

GRANT ALL ON SEQUENCE ayb.mail_outbox_id_seq TO ayb_system;

GRANT ALL ON TABLE ayb.oauth_exchange_codes TO ayb_system;

GRANT ALL ON TABLE ayb.oauth_flows TO ayb_system;

GRANT ALL ON TABLE ayb.one_time_tokens TO ayb_system;

GRANT ALL ON TABLE ayb.refresh_tokens TO ayb_system;

GRANT ALL ON SEQUENCE ayb.refresh_tokens_id_seq TO ayb_system;

GRANT SELECT ON TABLE ayb.schema_version TO ayb_system;

GRANT ALL ON TABLE ayb.sessions TO ayb_system;

GRANT ALL ON TABLE ayb.signing_keys TO ayb_system;

GRANT ALL ON TABLE ayb.users TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA ayb GRANT ALL ON SEQUENCES  TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA ayb GRANT ALL ON FUNCTIONS  TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA ayb GRANT ALL ON TABLES  TO ayb_system;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON SEQUENCES  TO service_role;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON FUNCTIONS  TO service_role;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON TABLES  TO anon;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON TABLES  TO authenticated;
ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin IN SCHEMA public GRANT ALL ON TABLES  TO service_role;

ALTER DEFAULT PRIVILEGES FOR ROLE ayb_admin REVOKE ALL ON FUNCTIONS  FROM PUBLIC;
