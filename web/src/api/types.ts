import type { components } from "./schema";

type Schemas = components["schemas"];

export type Alert = Schemas["Alert"];
export type AlertType = Schemas["AlertType"];
export type Severity = Schemas["Severity"];
export type Agent = Schemas["Agent"];
export type ApiKey = Schemas["ApiKey"];
export type AuditLogEntry = Schemas["AuditLogEntry"];
export type BillingDashboard = Schemas["BillingDashboard"];
export type BillingSettings = Schemas["BillingSettings"];
export type CardOnFile = Schemas["CardOnFile"];
export type Employee = Schemas["Employee"];
export type EnrollmentToken = Schemas["EnrollmentToken"];
export type Invoice = Schemas["Invoice"];
export type InvoiceStatus = Schemas["InvoiceStatus"];
export type Me = Schemas["Me"];
export type PlanChangePreview = Schemas["PlanChangePreview"];
export type Policy = Schemas["Policy"];
export type PolicySettings = Schemas["PolicySettings"];
export type Problem = Schemas["Problem"];
export type Role = Schemas["Role"];
export type Session = Schemas["Session"];
export type Subscription = Schemas["Subscription"];
export type Tier = Schemas["Tier"];
export type TierCode = Schemas["TierCode"];
export type UsageItem = Schemas["UsageItem"];
export type User = Schemas["User"];
