DROP TABLE policies;
DROP TABLE agents;
DROP TABLE enrollment_tokens;
DROP TABLE employees;
