// The TypeScript original's cold start for a status read (seed guide, "Custom Status Implementation"):
// require the AWS SDK v3 DynamoDB client and document client, and create the document client.
// Timed from inside, like the Python variants (interpreter start-up excluded); prints seconds.
const started = process.hrtime.bigint();
const { DynamoDBClient } = require("@aws-sdk/client-dynamodb");
const { DynamoDBDocumentClient } = require("@aws-sdk/lib-dynamodb");
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: process.env.AWS_REGION }));
const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
if (!ddb) throw new Error("no client");
console.log(String(elapsed));
