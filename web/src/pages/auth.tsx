import type { PageProps } from "../routes";
// Placeholder pages, replaced by the real ones.
export function SignInPage(_: PageProps) { return <h1>Sign in</h1>; }
export function RegisterPage(_: PageProps) { return <h1>Create an account</h1>; }
export function ForgotPasswordPage(_: PageProps) { return <h1>Forgot password</h1>; }
export function ResetPasswordPage(_: PageProps) { return <h1>Choose a new password</h1>; }
export function VerifyEmailPage(_: PageProps) { return <h1>Verify your email</h1>; }
