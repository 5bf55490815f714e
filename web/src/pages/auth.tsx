// The public account pages: sign-in, registration, forgotten password and the two
// pages the account emails link to.
import "./auth.css";
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, must } from "../api/client";
import { ApiError } from "../api/problem";
import type { components } from "../api/schema";
import { Field, FieldProblem, FormAlert, SubmitButton, useForm } from "../components/form";
import { ErrorBox, Loading } from "../components/states";
import { Link, navigate } from "../lib/router";
import { session, signIn } from "../lib/session";
import { useStore } from "../lib/store";
import { useApi } from "../lib/useApi";
import type { PageProps } from "../routes";

// ---------------------------------------------------------------------------
// Pure helpers (tested in auth.test.tsx).

/**
 * Where to go after signing in: `raw` when it is a path of this site, else "/".
 * "//host" and "/\host" are refused because browsers read them as other origins;
 * the sign-in page itself is refused so a signed-in visitor never loops on it.
 */
export function safeNext(raw: string | null, origin: string = window.location.origin): string {
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.startsWith("/\\")) return "/";
  let url: URL;
  try {
    url = new URL(raw, origin);
  } catch {
    return "/";
  }
  if (url.origin !== origin || url.pathname === "/sign-in") return "/";
  return url.pathname + url.search + url.hash;
}

/** The one-time code of an email link (`…/reset-password#token=…`), or null. */
export function tokenFromHash(hash: string): string | null {
  const token = new URLSearchParams(hash.replace(/^#/, "")).get("token")?.trim();
  return token ? token : null;
}

function AuthLinks({ children }: { children: ComponentChildren }) {
  return <p class="auth-links">{children}</p>;
}

const PASSWORD_HINT = "8 to 128 characters. Not a common password, and not containing your username or email.";

// ---------------------------------------------------------------------------
// Sign in.

type DemoLogin = components["schemas"]["DemoLogin"];

/** The generated demo account; the server offers it in development only. */
function DemoLoginBox({ demo, onUse }: { demo: DemoLogin; onUse: () => void }) {
  return (
    <section class="demo-login" aria-labelledby="demo-login-title">
      <h2 id="demo-login-title">Demo login</h2>
      <p class="muted">This development server has a demo account with generated data.</p>
      <dl>
        <dt>Username</dt>
        <dd>
          <code>{demo.username}</code>
        </dd>
        <dt>Password</dt>
        <dd>
          <code>{demo.password}</code>
        </dd>
      </dl>
      <button type="button" class="ghost" onClick={onUse}>
        Use the demo login
      </button>
    </section>
  );
}

export function SignInPage({ location }: PageProps) {
  const next = safeNext(location.query.get("next"));
  const expired = location.query.get("expired") === "1";
  const state = useStore(session);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const form = useForm(["username", "password"]);
  // Any failure (404 outside development) just means there is no demo box.
  const demo = useApi(() => must(api.GET("/api/v1/demo/login")), []);

  // Already signed in, or just signed in (signIn() sets the session): go on.
  useEffect(() => {
    if (state.status === "signed-in") navigate(next, { replace: true });
  }, [state.status, next]);

  const fillDemo = (login: DemoLogin) => {
    setUsername(login.username);
    setPassword(login.password);
  };

  return (
    <>
      <h1>Sign in</h1>
      {expired ? (
        <p class="auth-note" role="status">
          Your session ended; sign in again.
        </p>
      ) : null}
      <form ref={form.ref} onSubmit={form.submit(() => signIn(username.trim(), password))}>
        <Field
          name="username"
          label="Username or email"
          value={username}
          onValue={setUsername}
          error={form.fields.username}
          autocomplete="username"
          verbatim
          required
          maxLength={320}
        />
        <Field
          name="password"
          label="Password"
          type="password"
          value={password}
          onValue={setPassword}
          error={form.fields.password}
          autocomplete="current-password"
          required
          maxLength={128}
        />
        <FormAlert error={form.error} />
        <div class="actions">
          <SubmitButton sending={form.sending} label="Sign in" busyLabel="Signing in…" />
          <Link href="/forgot-password">Forgot password?</Link>
        </div>
      </form>
      <AuthLinks>
        New to ProdLens? <Link href="/register">Create an account</Link>
      </AuthLinks>
      {demo.state === "ready" ? <DemoLoginBox demo={demo.data} onUse={() => fillDemo(demo.data)} /> : null}
    </>
  );
}

// ---------------------------------------------------------------------------
// Register.

const REGISTER_FIELDS = ["email", "username", "display_name", "password"] as const;
const REGISTER_CODES = { "auth.weak_password": "password", "auth.username_taken": "username" };

export function RegisterPage(_: PageProps) {
  const [email, setEmail] = useState("");
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [password, setPassword] = useState("");
  const [sentTo, setSentTo] = useState<string | null>(null);
  const form = useForm(REGISTER_FIELDS, REGISTER_CODES);

  const register = async () => {
    await must(
      api.POST("/api/v1/auth/register", {
        body: {
          email: email.trim(),
          username: username.trim(),
          password,
          // The API wants a display name; without one, people are shown by username.
          display_name: displayName.trim() || username.trim(),
        },
      }),
    );
    setSentTo(email.trim());
  };

  if (sentTo) {
    // The API answers the same for an address that already has an account (that
    // owner gets a "you already have an account" email), so neither does this page.
    return (
      <>
        <h1>Check your inbox</h1>
        <p role="status">
          We sent an email to <strong>{sentTo}</strong>. Follow its link to confirm your address.
        </p>
        <AuthLinks>
          <Link href="/sign-in">Sign in</Link>
        </AuthLinks>
      </>
    );
  }

  return (
    <>
      <h1>Create an account</h1>
      <form ref={form.ref} onSubmit={form.submit(register)}>
        <Field
          name="email"
          label="Email"
          type="email"
          value={email}
          onValue={setEmail}
          error={form.fields.email}
          autocomplete="email"
          required
          maxLength={320}
        />
        <Field
          name="username"
          label="Username"
          value={username}
          onValue={setUsername}
          error={form.fields.username}
          hint="3 to 32 letters, digits, _, . or -, starting with a letter or digit."
          autocomplete="username"
          verbatim
          required
          minLength={3}
          maxLength={32}
        />
        <Field
          name="display_name"
          label="Display name (optional)"
          value={displayName}
          onValue={setDisplayName}
          error={form.fields.display_name}
          autocomplete="name"
          maxLength={100}
        />
        <Field
          name="password"
          label="Password"
          type="password"
          value={password}
          onValue={setPassword}
          error={form.fields.password}
          hint={PASSWORD_HINT}
          autocomplete="new-password"
          required
          minLength={8}
          maxLength={128}
        />
        <FormAlert error={form.error} />
        <div class="actions">
          <SubmitButton sending={form.sending} label="Create account" busyLabel="Creating…" />
        </div>
      </form>
      <AuthLinks>
        Already have an account? <Link href="/sign-in">Sign in</Link>
      </AuthLinks>
    </>
  );
}

// ---------------------------------------------------------------------------
// Forgotten password.

export function ForgotPasswordPage(_: PageProps) {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState(false);
  const form = useForm(["email"]);

  const request = async () => {
    await must(api.POST("/api/v1/auth/password-reset", { body: { email: email.trim() } }));
    setSent(true);
  };

  if (sent) {
    // Worded the same whether or not the address has an account, as the API is.
    return (
      <>
        <h1>Check your inbox</h1>
        <p role="status">
          If an account uses this address, an email with a link to choose a new password is on its way. The link
          works once, for a limited time.
        </p>
        <AuthLinks>
          <Link href="/sign-in">Back to sign-in</Link>
        </AuthLinks>
      </>
    );
  }

  return (
    <>
      <h1>Forgot password</h1>
      <p class="muted">Enter the email address of your account; we will send you a link to choose a new password.</p>
      <form ref={form.ref} onSubmit={form.submit(request)}>
        <Field
          name="email"
          label="Email"
          type="email"
          value={email}
          onValue={setEmail}
          error={form.fields.email}
          autocomplete="email"
          required
          maxLength={320}
        />
        <FormAlert error={form.error} />
        <div class="actions">
          <SubmitButton sending={form.sending} label="Send the link" busyLabel="Sending…" />
        </div>
      </form>
      <AuthLinks>
        <Link href="/sign-in">Back to sign-in</Link>
      </AuthLinks>
    </>
  );
}

// ---------------------------------------------------------------------------
// The pages of the email links.

/**
 * The code of the email link this page was opened with. It is read once and then
 * removed from the address bar, so it does not stay in history or get shared.
 */
function useLinkToken(): string | null {
  const [token] = useState(() => tokenFromHash(window.location.hash));
  useEffect(() => {
    if (!window.location.hash) return;
    window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search);
  }, []);
  return token;
}

function isTokenInvalid(error: unknown): boolean {
  return error instanceof ApiError && error.code === "auth.token_invalid";
}

function ResetLinkInvalid({ reason }: { reason: string }) {
  return (
    <>
      <h1>Choose a new password</h1>
      <p role="alert" class="auth-problem">
        {reason}
      </p>
      <AuthLinks>
        <Link href="/forgot-password">Request a new link</Link>
      </AuthLinks>
    </>
  );
}

export function ResetPasswordPage(_: PageProps) {
  const token = useLinkToken();
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [done, setDone] = useState(false);
  const [tokenRefused, setTokenRefused] = useState(false);
  const form = useForm(["new_password", "confirm"], { "auth.weak_password": "new_password" });

  if (!token) return <ResetLinkInvalid reason="This page needs the link from a password reset email." />;
  if (tokenRefused) return <ResetLinkInvalid reason="This link is invalid, already used or expired." />;

  const reset = async () => {
    if (password !== confirm) throw new FieldProblem({ confirm: "The two passwords differ." });
    try {
      await must(api.POST("/api/v1/auth/password-reset/confirm", { body: { token, new_password: password } }));
    } catch (error) {
      if (!isTokenInvalid(error)) throw error;
      setTokenRefused(true);
      return;
    }
    // The reset ended every session of that account; if this browser had one, its
    // next call fails to refresh and the app shows sign-in by itself.
    setDone(true);
  };

  if (done) {
    return (
      <>
        <h1>Password changed</h1>
        <p role="status">Sign in with your new password. Every session of your account has been signed out.</p>
        <AuthLinks>
          <Link href="/sign-in">Sign in</Link>
        </AuthLinks>
      </>
    );
  }

  return (
    <>
      <h1>Choose a new password</h1>
      <form ref={form.ref} onSubmit={form.submit(reset)}>
        <Field
          name="new_password"
          label="New password"
          type="password"
          value={password}
          onValue={setPassword}
          error={form.fields.new_password}
          hint={PASSWORD_HINT}
          autocomplete="new-password"
          required
          minLength={8}
          maxLength={128}
        />
        <Field
          name="confirm"
          label="New password, again"
          type="password"
          value={confirm}
          onValue={setConfirm}
          error={form.fields.confirm}
          autocomplete="new-password"
          required
          maxLength={128}
        />
        <FormAlert error={form.error} />
        <div class="actions">
          <SubmitButton sending={form.sending} label="Change password" busyLabel="Changing…" />
        </div>
      </form>
    </>
  );
}

/** Ask for a new verification email: for the signed-in account, or for an address. */
function ResendVerification() {
  const state = useStore(session);
  const signedInEmail = state.status === "signed-in" ? state.user.email : null;
  const alreadyVerified = state.status === "signed-in" && state.user.is_verified;
  const [email, setEmail] = useState("");
  const [answer, setAnswer] = useState<string | null>(null);
  const form = useForm(["email"]);

  const resend = async () => {
    const body = { email: signedInEmail ?? email.trim() };
    const accepted = await must(api.POST("/api/v1/auth/verify-email/resend", { body }));
    setAnswer(accepted.detail);
  };

  if (alreadyVerified) {
    return (
      <p>
        The address of your account, <strong>{signedInEmail}</strong>, is already confirmed.
      </p>
    );
  }
  return (
    <section aria-labelledby="resend-title">
      <h2 id="resend-title">Get a new link</h2>
      {answer ? (
        <p role="status">{answer}</p>
      ) : (
        <form ref={form.ref} onSubmit={form.submit(resend)}>
          {signedInEmail ? (
            <p>
              Send a new link to <strong>{signedInEmail}</strong>.
            </p>
          ) : (
            <Field
              name="email"
              label="Email"
              type="email"
              value={email}
              onValue={setEmail}
              error={form.fields.email}
              hint="The address to confirm; a new link goes there if it is not confirmed yet."
              autocomplete="email"
              required
              maxLength={320}
            />
          )}
          <FormAlert error={form.error} />
          <div class="actions">
            <SubmitButton sending={form.sending} label="Send a new link" busyLabel="Sending…" />
          </div>
        </form>
      )}
    </section>
  );
}

function VerifyFailed({ reason }: { reason: string }) {
  return (
    <>
      <h1>Verify your email</h1>
      <p role="alert" class="auth-problem">
        {reason}
      </p>
      <ResendVerification />
    </>
  );
}

export function VerifyEmailPage(_: PageProps) {
  const token = useLinkToken();
  const state = useStore(session);
  const verified = useApi(async () => {
    if (!token) return null;
    const user = await must(api.POST("/api/v1/auth/verify-email/{token}", { params: { path: { token } } }));
    // Keep the signed-in account's "verified" flag current without another request.
    const current = session.get();
    if (current.status === "signed-in" && current.user.id === user.id) session.set({ status: "signed-in", user });
    return user;
  }, [token]);

  if (!token) return <VerifyFailed reason="This page needs the link from a verification email." />;
  if (verified.state === "loading") return <Loading label="Confirming your email address…" />;
  if (verified.state === "error") {
    if (isTokenInvalid(verified.error)) return <VerifyFailed reason="This link is invalid, already used or expired." />;
    return (
      <>
        <h1>Verify your email</h1>
        <ErrorBox error={verified.error} onRetry={verified.reload} />
      </>
    );
  }
  return (
    <>
      <h1>Email address confirmed</h1>
      <p role="status">
        <strong>{verified.data?.email}</strong> is confirmed. Thank you.
      </p>
      <AuthLinks>
        {state.status === "signed-in" ? <Link href="/">Go to your projects</Link> : <Link href="/sign-in">Sign in</Link>}
      </AuthLinks>
    </>
  );
}
