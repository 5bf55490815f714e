// Form building blocks shared by every form of the dashboard: labelled fields with
// their hint and error, a sending state, and failures sorted into field messages
// (a 422's field errors, or a problem code that is about one field) and a general
// alert.
import type { InputHTMLAttributes, LooseInputHTMLAttributes } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api/problem";
import { ErrorBox } from "./states";

/** A problem the page finds before asking the API, keyed by field name. */
export class FieldProblem extends Error {
  readonly fields: Record<string, string>;

  constructor(fields: Record<string, string>) {
    super(Object.values(fields).join(" "));
    this.name = "FieldProblem";
    this.fields = fields;
  }
}

export interface FormErrors {
  /** Messages shown under their fields. */
  fields: Record<string, string>;
  /** Anything that belongs to no shown field, for the form's alert; null when none. */
  error: unknown;
}

/**
 * Sort a failure into field messages and a general error. `byCode` sends a problem
 * code to the field it is about (e.g. `auth.weak_password` → "password", whose
 * detail says why); a 422's field errors go to the fields the form shows, and any
 * about a field it does not show keep the general error visible.
 */
export function splitErrors(
  error: unknown,
  shown: readonly string[],
  byCode: Readonly<Record<string, string>> = {},
): FormErrors {
  if (error instanceof FieldProblem) return { fields: error.fields, error: null };
  if (!(error instanceof ApiError)) return { fields: {}, error };
  const field = error.code ? byCode[error.code] : undefined;
  if (field) return { fields: { [field]: error.detail ?? error.title }, error: null };
  const all = error.fieldErrors();
  const fields = Object.fromEntries(Object.entries(all).filter(([name]) => shown.includes(name)));
  const complete = Object.keys(fields).length > 0 && Object.keys(fields).length === Object.keys(all).length;
  return { fields, error: complete ? null : error };
}

interface FormState extends FormErrors {
  sending: boolean;
}

const IDLE: FormState = { sending: false, fields: {}, error: null };

/**
 * A form's sending state and errors. `submit(action)` is the form's onSubmit: it
 * runs `action` once at a time and sorts its failure with `splitErrors`; after a
 * failure the first field with a message gets the focus.
 */
export function useForm(shown: readonly string[], byCode: Readonly<Record<string, string>> = {}) {
  const [state, setState] = useState<FormState>(IDLE);
  const ref = useRef<HTMLFormElement>(null);

  useEffect(() => {
    if (Object.keys(state.fields).length === 0) return;
    ref.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [state.fields]);

  const submit = (action: () => Promise<void>) => async (event: Event) => {
    event.preventDefault();
    if (state.sending) return;
    setState({ ...IDLE, sending: true });
    try {
      await action();
      setState(IDLE);
    } catch (error) {
      setState({ sending: false, ...splitErrors(error, shown, byCode) });
    }
  };
  return { ...state, ref, submit };
}

/** The id, aria-invalid and aria-describedby of a control with a hint and an error. */
export function fieldAria(id: string, error?: string, hint?: string) {
  const described = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return { id, "aria-invalid": error ? true : undefined, "aria-describedby": described || undefined };
}

/** The hint and the error under a control, with the ids `fieldAria` points at. */
export function FieldNotes({ id, error, hint }: { id: string; error?: string | undefined; hint?: string | undefined }) {
  return (
    <>
      {hint ? (
        <p id={`${id}-hint`} class="field-hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} class="field-error">
          {error}
        </p>
      ) : null}
    </>
  );
}

interface FieldProps {
  name: string;
  label: string;
  value: string;
  onValue: (value: string) => void;
  error?: string | undefined;
  hint?: string | undefined;
  type?: "text" | "email" | "password";
  autocomplete: string;
  required?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  /** For usernames, emails and slugs: no capitals or spelling marks from the keyboard. */
  verbatim?: boolean;
}

/** A labelled input with its hint and error message. */
export function Field({ name, label, value, onValue, error, hint, type = "text", verbatim, ...input }: FieldProps) {
  const id = `field-${name}`;
  const attributes: LooseInputHTMLAttributes<HTMLInputElement> = {
    ...input,
    ...fieldAria(id, error, hint),
    type,
    name,
    value,
    autocapitalize: verbatim ? "none" : undefined,
    spellcheck: verbatim ? false : undefined,
    onInput: (event) => onValue(event.currentTarget.value),
  };
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {/* Preact types <input> as a union keyed by a literal `type`; ours is chosen at run time. */}
      <input {...(attributes as InputHTMLAttributes<HTMLInputElement>)} />
      <FieldNotes id={id} error={error} hint={hint} />
    </div>
  );
}

/** A form's general error; ErrorBox is a role="alert" region, announced when it appears. */
export function FormAlert({ error }: { error: unknown }) {
  return error ? <ErrorBox error={error} /> : null;
}

export function SubmitButton({ sending, label, busyLabel }: { sending: boolean; label: string; busyLabel: string }) {
  return (
    <button type="submit" disabled={sending}>
      {sending ? busyLabel : label}
    </button>
  );
}
